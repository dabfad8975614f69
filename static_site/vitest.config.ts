import {defineConfig} from 'vitest/config';

// Unit tests cover the pure modules only (no DOM, no network), so they run in Node in well under a second.
export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    environment: 'node',
  },
});
