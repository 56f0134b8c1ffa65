// Where the browser tests find Debian's Chromium: CHROMIUM_PATH, else
// `chromium` on PATH.

import { execSync } from 'node:child_process';

export function chromiumPath() {
  if (process.env.CHROMIUM_PATH) return process.env.CHROMIUM_PATH;
  try {
    return execSync('command -v chromium', { shell: '/bin/sh', encoding: 'utf8' }).trim();
  } catch {
    throw new Error('chromium not found on PATH: apt-get install -y chromium (or set CHROMIUM_PATH)');
  }
}
