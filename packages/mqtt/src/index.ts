// Codec
export { DEFAULT_MAX_PACKET_SIZE, MQTT_MAX_PACKET_SIZE, MqttDecoder } from './decoder';
export { DEFAULT_WRITE_HIGH_WATER_MARK, encodePacket, MqttWriter, type MqttWriterEvents } from './encoder';
// Errors and reason codes
export {
  MqttConnectionClosedError,
  MqttProtocolError,
  MqttPublishError,
  type MqttPublishErrorCode,
} from './errors';
export {
  ConnackReturnCode,
  fromConnackReturnCode,
  ReasonCode,
  toConnackReturnCode,
  toSubackReturnCode,
} from './reason-codes';
export type * from './types';
