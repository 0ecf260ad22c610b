// Starts `yiqiao serve --demo` on a free loopback port with a fresh data directory, waits for
// /healthz, and stops it again (also when the test process exits abnormally).
import { spawn } from 'node:child_process';
import { createWriteStream, existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const DEFAULT_BIN = '/root/.cache/yiqiao-target/debug/yiqiao';

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

export async function startServer({ bin = process.env.YIQIAO_BIN || DEFAULT_BIN, logFile, startTimeoutMs = 90_000, configToml } = {}) {
  if (!existsSync(bin)) {
    throw new Error(`server binary not found at ${bin}; build it with ` +
      '`CARGO_TARGET_DIR=/root/.cache/yiqiao-target cargo build --bin yiqiao` or set YIQIAO_BIN');
  }
  const dataDir = mkdtempSync(join(tmpdir(), 'yiqiao-e2e-'));
  // `configToml` becomes ./yiqiao.toml in the server's working directory (e.g. a [calls] section).
  if (configToml) writeFileSync(join(dataDir, 'yiqiao.toml'), configToml);
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const child = spawn(bin, ['serve', '--demo', '--data-dir', dataDir, '--listen', `127.0.0.1:${port}`], {
    cwd: dataDir, // no stray ./yiqiao.toml is picked up
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env },
  });
  if (logFile) {
    const log = createWriteStream(logFile);
    child.stdout.pipe(log);
    child.stderr.pipe(log);
  } else {
    child.stdout.resume();
    child.stderr.resume();
  }
  let exited = null;
  const exitPromise = new Promise((resolve) => child.on('exit', (code, signal) => {
    exited = { code, signal };
    resolve(exited);
  }));
  const killNow = () => {
    if (!exited) child.kill('SIGKILL');
    if (!process.env.YIQIAO_KEEP_DATA) rmSync(dataDir, { recursive: true, force: true });
  };
  // Never leave the server behind: normal exit, uncaught errors, or the test run being interrupted.
  const onSignal = (sig) => {
    killNow();
    process.exit(sig === 'SIGINT' ? 130 : 143);
  };
  process.on('exit', killNow);
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  const stop = async () => {
    process.off('exit', killNow);
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    if (!exited) {
      child.kill('SIGTERM');
      const t = await Promise.race([exitPromise, sleep(5_000).then(() => null)]);
      if (!t) {
        child.kill('SIGKILL');
        await exitPromise;
      }
    }
    if (!process.env.YIQIAO_KEEP_DATA) rmSync(dataDir, { recursive: true, force: true });
  };

  const deadline = Date.now() + startTimeoutMs;
  for (;;) {
    if (exited) {
      await stop();
      throw new Error(`server exited during start-up (${JSON.stringify(exited)}); see ${logFile ?? 'its output'}`);
    }
    try {
      const res = await fetch(`${base}/healthz`, { signal: AbortSignal.timeout(2_000) });
      if (res.status === 200) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`server did not answer /healthz with 200 within ${startTimeoutMs / 1000} s`);
    }
    await sleep(200); // polling interval while the server starts, not a synchronisation sleep
  }
  return { base, port, dataDir, pid: child.pid, stop };
}
