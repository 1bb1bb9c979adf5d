// The estimator's worker thread: answers each request from src/passwords/strength-estimator.ts
// with zxcvbn's estimate (src/passwords/zxcvbn.ts), one at a time, away from the event loop.

import { parentPort } from 'node:worker_threads';
import { estimateStrength, warmUp, type Estimate } from './zxcvbn.js';

export interface EstimateRequest {
  id: number;
  password: string;
  userInputs: string[];
}

export type WorkerMessage = { type: 'ready' } | { type: 'estimate'; id: number; estimate: Estimate } | { type: 'failed'; id: number };

const port = parentPort;
if (!port) throw new Error('strength-worker runs as a worker thread only');

warmUp();
port.on('message', (request: EstimateRequest) => {
  let answer: WorkerMessage;
  try {
    answer = { type: 'estimate', id: request.id, estimate: estimateStrength(request.password, request.userInputs) };
  } catch {
    // Never the password or its details: the main thread answers a generic 503.
    answer = { type: 'failed', id: request.id };
  }
  port.postMessage(answer);
});
port.postMessage({ type: 'ready' } satisfies WorkerMessage);
