// The part of @gomomento/sdk-web this site uses: the TopicClient and what it needs, nothing else.
//
// sdk-web is CommonJS, so bundlers cannot tree-shake it, and its index pulls in every client with its generated
// protobuf code (the cache client's alone is about 1 MB). Its topic modules only need a handful of names from that
// index, so vite.config.ts points the index, when imported from inside sdk-web, at this module instead: the same
// code, from the same pinned package, minus the clients we never construct.
export * from '@gomomento/sdk-core';
export * as TopicConfigurations from '@gomomento/sdk-web/dist/src/config/topic-configurations';
export {TopicClient} from '@gomomento/sdk-web/dist/src/topic-client';
export {
  DefaultMomentoLoggerFactory,
  DefaultMomentoLoggerLevel,
} from '@gomomento/sdk-web/dist/src/config/logging/default-momento-logger';
