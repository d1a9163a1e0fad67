/**
 * Matching one topic name against one topic filter (MQTT 5.0 section 4.7), without allocating.
 * For many filters at once use `TopicTree`.
 */

const SLASH = '/';
const PLUS = 0x2b;
const HASH = 0x23;
const DOLLAR = 0x24;

/**
 * `true` when the topic filter `filter` matches the topic name `topic`:
 * - `+` matches exactly one level, which may be empty (`a/+` matches `a/`);
 * - `#` matches the rest of the topic, including nothing at all (`a/#` matches `a` and `a/b/c`);
 * - a topic starting with `$` is not matched by a filter starting with `+` or `#`;
 * - empty levels are levels (`a//b` has three).
 *
 * Both arguments are taken as valid (see `validateTopicFilter` and `validateTopicName`); filters are
 * matched literally, so give the inner filter of a shared subscription, not `$share/…`.
 */
export function filterMatchesTopic(filter: string, topic: string): boolean {
  const first = filter.charCodeAt(0);
  if ((first === PLUS || first === HASH) && topic.charCodeAt(0) === DOLLAR) return false;
  const filterLength = filter.length;
  const topicLength = topic.length;
  let f = 0;
  // `t > topicLength` means every level of the topic has been consumed.
  let t = 0;
  for (;;) {
    let filterEnd = filter.indexOf(SLASH, f);
    if (filterEnd === -1) filterEnd = filterLength;
    const width = filterEnd - f;
    if (width === 1 && filter.charCodeAt(f) === HASH) return true;
    if (t > topicLength) return false;
    let topicEnd = topic.indexOf(SLASH, t);
    if (topicEnd === -1) topicEnd = topicLength;
    if (width !== 1 || filter.charCodeAt(f) !== PLUS) {
      if (width !== topicEnd - t) return false;
      for (let k = 0; k < width; k++) {
        if (filter.charCodeAt(f + k) !== topic.charCodeAt(t + k)) return false;
      }
    }
    if (filterEnd === filterLength) return topicEnd === topicLength;
    f = filterEnd + 1;
    t = topicEnd + 1;
  }
}
