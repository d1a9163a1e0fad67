// rhea's internal modules this package reaches (rhea 3 ships no types for them; each use checks the shape).
declare module 'rhea/lib/frames.js' {
  const frames: Record<string, unknown>;
  export default frames;
}
declare module 'rhea/lib/link.js' {
  const link: Record<string, unknown>;
  export default link;
}
