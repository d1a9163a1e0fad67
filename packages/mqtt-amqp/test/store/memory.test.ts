import { createMemoryStores } from '@dragoman/mqtt-amqp';
import { describeStoreConformance } from './conformance';

describeStoreConformance('memory', (options) => createMemoryStores(options));
