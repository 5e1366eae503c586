import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    environment: 'node',
    testTimeout: 30_000,
    hookTimeout: 30_000,
    // The Google clients never reach a real endpoint from a test: each emulator variable
    // points at a closed loopback port until a test sets it to its own server, and no
    // credentials file is read.
    env: {
      METADATA_SERVER_DETECTION: 'none',
      STORAGE_EMULATOR_HOST: 'http://127.0.0.1:9',
      FIRESTORE_EMULATOR_HOST: '127.0.0.1:9',
      GOOGLE_APPLICATION_CREDENTIALS: '',
      GOOGLE_CLOUD_PROJECT: 'demo-headhunter',
    },
  },
});
