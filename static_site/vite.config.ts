import {defineConfig, type Plugin} from 'vite';

const SDK_WEB_INDEX = '/node_modules/@gomomento/sdk-web/dist/src/index.js';
const slimSdk = decodeURIComponent(new URL('./src/sdk.ts', import.meta.url).pathname);

/**
 * sdk-web's topic modules import the package index ("." / "../index" / "../../src") for a few names; the index
 * also loads every other client and about 1.3 MB of generated protobuf code. Resolve that index to src/sdk.ts,
 * which re-exports the same names from the same package. The app itself imports only src/sdk.ts.
 */
function slimSdkWeb(): Plugin {
  return {
    name: 'slim-sdk-web',
    enforce: 'pre',
    async resolveId(source, importer, options) {
      if (importer === undefined || !importer.replace(/\\/g, '/').includes('/@gomomento/sdk-web/dist/src/')) {
        return null;
      }
      const resolved = await this.resolve(source, importer, {...options, skipSelf: true});
      return resolved !== null && resolved.id.replace(/\\/g, '/').endsWith(SDK_WEB_INDEX) ? slimSdk : null;
    },
  };
}

// Relative asset paths: dist/ works from any prefix (S3 + CloudFront, the local stack, a file server).
// Runtime settings come from ./config.js (see public/config.js), never from build-time variables.
export default defineConfig({
  base: './',
  plugins: [slimSdkWeb()],
  build: {
    target: 'es2022',
    outDir: 'dist',
    emptyOutDir: true,
    sourcemap: false,
    // One entry chunk; the only dynamic import is the AWS SDK's Cognito client (src/main.ts), fetched in AmazonCognito
    // mode only. Every browser the site supports has modulepreload: the polyfill would be dead weight.
    modulePreload: {polyfill: false},
    // The bundle is mostly sdk-web's dependencies (google-protobuf, sdk-core); the app itself is small.
    chunkSizeWarningLimit: 820,
    rolldownOptions: {
      onLog(level, log, handler) {
        // google-protobuf's closure base library probes `eval` inside try/catch (never reached by this app);
        // the warning is not actionable here.
        if (log.code === 'EVAL' && (log.id ?? '').includes('google-protobuf')) {
          return;
        }
        handler(level, log);
      },
    },
  },
});
