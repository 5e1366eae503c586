import fs from 'node:fs';
import path from 'node:path';
import { bin as packageBin } from 'cloudflared';

/** The cloudflared executable could not be found or run; the message lists the ways to install it. */
export class CloudflaredNotFoundError extends Error {
  override readonly name = 'CloudflaredNotFoundError';
}

const INSTALL_HELP = [
  'Install cloudflared in one of these ways:',
  '  npx cloudflared bin install            (downloads the latest release from GitHub into node_modules/cloudflared/bin)',
  '  Debian/Ubuntu: the cloudflared package from https://pkg.cloudflare.com/ (then it is on PATH)',
  '  any release from https://github.com/cloudflare/cloudflared/releases, then CLOUDFLARED_BIN=/path/to/cloudflared',
].join('\n');

/**
 * Finds the cloudflared executable: `configured` (CLOUDFLARED_BIN) when given, else the
 * path the `cloudflared` npm package installs to (its `bin` export, which also honours
 * CLOUDFLARED_BIN), else `cloudflared` on PATH. The package's own postinstall download is
 * disabled in package.json (`allowScripts`), so the package path is empty until someone runs
 * `npx cloudflared bin install`.
 *
 * @throws CloudflaredNotFoundError naming the paths tried and the install commands.
 */
export function resolveCloudflaredBinary(configured: string | undefined, searchPath: string = process.env.PATH ?? ''): string {
  if (configured) {
    if (!isExecutable(configured)) {
      throw new CloudflaredNotFoundError(`CLOUDFLARED_BIN=${configured} is not an executable file.\n${INSTALL_HELP}`);
    }
    return configured;
  }

  if (isExecutable(packageBin)) return packageBin;

  for (const directory of searchPath.split(path.delimiter).filter(Boolean)) {
    const candidate = path.join(directory, process.platform === 'win32' ? 'cloudflared.exe' : 'cloudflared');
    if (isExecutable(candidate) && !isInsideNodeModules(candidate)) return candidate;
  }

  throw new CloudflaredNotFoundError(`cloudflared was not found at ${packageBin} or on PATH.\n${INSTALL_HELP}`);
}

/**
 * True for `node_modules/.bin/cloudflared` and anything else that resolves into a
 * node_modules folder. `npm run` puts `node_modules/.bin` on PATH, and the `cloudflared`
 * package's command there is a JavaScript wrapper that downloads the binary from GitHub
 * when it is missing, so it must never be taken for the binary itself.
 */
function isInsideNodeModules(file: string): boolean {
  try {
    return fs.realpathSync(file).split(path.sep).includes('node_modules');
  } catch {
    return true;
  }
}

function isExecutable(file: string): boolean {
  try {
    if (!fs.statSync(file).isFile()) return false;
    fs.accessSync(file, fs.constants.X_OK);
    return true;
  } catch {
    return false;
  }
}
