// Password strength estimates (zxcvbn) off the event loop: one worker thread, started on
// first use and stopped when idle, one check at a time, a bounded queue shared fairly
// between requesters, and a time limit. Busy or broken means a clear 503, never a check
// skipped (fail closed).

import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import { AppError } from '../lib/errors.js';
import type { EstimateRequest, WorkerMessage } from './strength-worker.js';
import type { Estimate } from './zxcvbn.js';

export type { Estimate } from './zxcvbn.js';

export interface StrengthEstimator {
  /**
   * `requester`: who causes the check ("user:<id>", "ip:<address>"; none from the CLI), so
   * that no one requester can take all the places in the queue.
   */
  estimate(password: string, userInputs: string[], requester?: string): Promise<Estimate>;
}

export interface EstimatorOptions {
  /** Checks that may wait behind the running one; more are refused (503). */
  maxQueued?: number;
  /**
   * Checks of one requester that may be waiting or running at once; more are refused (503),
   * so one requester can never fill the queue for everybody else.
   */
  maxPerRequester?: number;
  /** Longest one check may take in the worker before it is given up and the worker replaced. */
  timeoutMs?: number;
  /** Longest the worker may take to start (load and rank the dictionaries). */
  startTimeoutMs?: number;
  /** The worker stops after this long without a check (its dictionaries take memory). */
  idleMs?: number;
  /** The worker's entry point; tests pass a stand-in. */
  script?: URL;
}

interface Job extends EstimateRequest {
  key: string | null;
  resolve(estimate: Estimate): void;
  reject(err: AppError): void;
}

const busy = (): AppError =>
  new AppError('password-check-busy', 503, 'Too many password checks are waiting. Try again in a moment.', { retryAfter: 2 });
const yoursBusy = (): AppError =>
  new AppError('password-check-busy', 503, 'Your earlier password checks are still running. Try again in a moment.', { retryAfter: 2 });
const unavailable = (cause: unknown): AppError =>
  new AppError('password-check-unavailable', 503, 'The password check is not available right now. Try again in a moment.', { cause, retryAfter: 5 });

/**
 * The worker's entry point. From the TypeScript sources (tests, development under tsx) the
 * worker first registers tsx itself: on Node 20, `--import tsx` registers its hooks on the
 * main thread only. (Its ES module API, located through tsx's exports map: the CommonJS
 * one cannot be imported from a worker.)
 */
function defaultScript(): URL {
  const own = import.meta.url;
  if (!own.endsWith('.ts')) return new URL('./strength-worker.js', own);
  const manifest = createRequire(own).resolve('tsx/package.json');
  const exportsMap = (JSON.parse(readFileSync(manifest, 'utf8')) as { exports: Record<string, { import: { default: string } }> }).exports;
  const tsx = new URL(exportsMap['./esm/api']?.import.default ?? './dist/esm/api/index.mjs', pathToFileURL(manifest)).href;
  const entry = new URL('./strength-worker.ts', own).href;
  const code = `const { register } = await import(${JSON.stringify(tsx)}); register(); await import(${JSON.stringify(entry)});`;
  return new URL(`data:text/javascript,${encodeURIComponent(code)}`);
}

export class WorkerStrengthEstimator implements StrengthEstimator {
  private worker: Worker | null = null;
  private ready = false;
  private current: Job | null = null;
  private readonly queue: Job[] = [];
  private timer: NodeJS.Timeout | null = null;
  private idleTimer: NodeJS.Timeout | null = null;
  private nextId = 1;
  private readonly maxQueued: number;
  private readonly maxPerRequester: number;
  private readonly timeoutMs: number;
  private readonly startTimeoutMs: number;
  private readonly idleMs: number;
  private readonly script: URL | null;

  constructor(options: EstimatorOptions = {}) {
    this.maxQueued = options.maxQueued ?? 32;
    this.maxPerRequester = options.maxPerRequester ?? 2;
    this.timeoutMs = options.timeoutMs ?? 5_000;
    this.startTimeoutMs = options.startTimeoutMs ?? 30_000;
    this.idleMs = options.idleMs ?? 120_000;
    this.script = options.script ?? null;
  }

  /**
   * Queues one check (first come, first served); refused (503) when `requester` already has
   * `maxPerRequester` checks here or the queue is full.
   */
  estimate(password: string, userInputs: string[], requester?: string): Promise<Estimate> {
    const key = requester ?? null;
    if (key !== null && this.pendingOf(key) >= this.maxPerRequester) return Promise.reject(yoursBusy());
    if (this.queue.length >= this.maxQueued) return Promise.reject(busy());
    return new Promise<Estimate>((resolve, reject) => {
      this.queue.push({ id: this.nextId++, key, password, userInputs, resolve, reject });
      this.pump();
    });
  }

  /** The checks of one requester waiting or running now. */
  private pendingOf(key: string): number {
    let n = this.current?.key === key ? 1 : 0;
    for (const job of this.queue) if (job.key === key) n++;
    return n;
  }

  /** Stops the worker; checks still waiting fail (503). */
  async close(): Promise<void> {
    const worker = this.worker;
    this.abandon(new Error('estimator closed'), { all: true });
    if (this.idleTimer) clearTimeout(this.idleTimer);
    await worker?.terminate();
  }

  private pump(): void {
    if (this.current || this.queue.length === 0) return;
    if (this.idleTimer) clearTimeout(this.idleTimer);
    const worker = this.worker ?? this.start();
    // Keeps the process alive while someone waits for an answer (the CLI has nothing else).
    worker.ref();
    if (!this.ready) return;
    const job = this.queue.shift() as Job;
    this.current = job;
    this.arm(this.timeoutMs, () => this.abandon(new Error(`strength check took over ${this.timeoutMs} ms`), { all: false }));
    worker.postMessage({ id: job.id, password: job.password, userInputs: job.userInputs } satisfies EstimateRequest);
  }

  private start(): Worker {
    const worker = new Worker(this.script ?? defaultScript());
    this.worker = worker;
    this.ready = false;
    // A worker that cannot start fails every waiting check: retrying would only loop.
    this.arm(this.startTimeoutMs, () => this.abandon(new Error(`strength worker did not start in ${this.startTimeoutMs} ms`), { all: true }));
    worker.on('message', (message: WorkerMessage) => {
      if (worker === this.worker) this.received(worker, message);
    });
    worker.on('error', (err) => {
      if (worker === this.worker) this.abandon(err, { all: !this.ready });
    });
    worker.on('exit', (code) => {
      if (worker === this.worker) this.abandon(new Error(`strength worker exited with code ${code}`), { all: !this.ready });
    });
    return worker;
  }

  private received(worker: Worker, message: WorkerMessage): void {
    if (message.type === 'ready') {
      this.disarm();
      this.ready = true;
      return this.pump();
    }
    const job = this.current;
    if (!job || message.id !== job.id) return;
    this.disarm();
    this.current = null;
    if (message.type === 'estimate') job.resolve(message.estimate);
    else job.reject(unavailable(new Error('the strength worker could not estimate a password')));
    if (this.queue.length === 0) this.idle(worker);
    this.pump();
  }

  /** Nothing to do: let the process exit, and stop the worker if nothing comes for a while. */
  private idle(worker: Worker): void {
    worker.unref();
    this.idleTimer = setTimeout(() => {
      if (this.worker !== worker || this.current || this.queue.length) return;
      this.worker = null;
      this.ready = false;
      void worker.terminate();
    }, this.idleMs);
    this.idleTimer.unref();
  }

  /**
   * The worker is hung, crashed or closed: it is replaced. The running check fails; with
   * `all` (it never started, or closing) so do the waiting ones, else they get a new worker.
   */
  private abandon(cause: unknown, { all }: { all: boolean }): void {
    const worker = this.worker;
    this.worker = null;
    this.ready = false;
    this.disarm();
    const failed = [...(this.current ? [this.current] : []), ...(all ? this.queue.splice(0) : [])];
    this.current = null;
    if (worker) {
      worker.removeAllListeners();
      worker.on('error', () => {});
      void worker.terminate();
    }
    for (const job of failed) job.reject(unavailable(cause));
    this.pump();
  }

  private arm(ms: number, onTimeout: () => void): void {
    this.disarm();
    this.timer = setTimeout(onTimeout, ms);
    this.timer.unref();
  }

  private disarm(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }
}

let shared: WorkerStrengthEstimator | null = null;
/** The process's estimator: the server, the CLI and the tests share one worker. */
export function sharedStrengthEstimator(): WorkerStrengthEstimator {
  shared ??= new WorkerStrengthEstimator();
  return shared;
}
