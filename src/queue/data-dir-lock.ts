import fs from 'node:fs';
import path from 'node:path';
import { ConfigError } from '../config/index.js';

/**
 * Takes the data directory for this process by writing `service.pid`. A second live
 * process on the same directory is rejected, because recovery at start-up assumes that
 * no other process is running this store's jobs. A lock left by a dead process (for
 * example after `kill -9`) is taken over.
 *
 * @returns a function that removes the lock file.
 * @throws ConfigError naming the pid that owns the directory.
 */
export function lockDataDir(dataDir: string): () => void {
  fs.mkdirSync(dataDir, { recursive: true });
  const lockPath = path.join(dataDir, 'service.pid');

  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      fs.writeFileSync(lockPath, String(process.pid), { flag: 'wx' });
      return () => {
        try {
          if (fs.readFileSync(lockPath, 'utf8') === String(process.pid)) fs.unlinkSync(lockPath);
        } catch {
          // Already gone: nothing to release.
        }
      };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }

    const holder = Number.parseInt(fs.readFileSync(lockPath, 'utf8'), 10);
    if (Number.isInteger(holder) && holder !== process.pid && isAlive(holder)) {
      throw new ConfigError(
        `DATA_DIR ${dataDir} is in use by process ${holder}; stop that process or give this one another DATA_DIR`,
      );
    }
    fs.rmSync(lockPath, { force: true });
  }
  throw new Error(`Could not take the lock file ${lockPath}; check that the directory is writable`);
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM means the process exists but belongs to another user.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}
