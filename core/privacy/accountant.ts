/**
 * Privacy accounting for DP-SGD: Rényi DP of the sampled Gaussian mechanism (Mironov, Talwar, Zhang
 * 2019, as TF Privacy and Opacus compute it) and its conversion to (epsilon, delta) with the bound of
 * Canonne, Kamath, Steinke 2020 / Asoodeh et al. (TF Privacy's `compute_eps`).
 *
 * A mechanism here is T steps, each releasing a sum over a Poisson sample (every record kept with
 * probability q) of per-record contributions clipped to L2 norm C, plus N(0, (sigma C)^2) noise.
 */

/** One run of identical steps. */
export interface SampledGaussianSteps {
  /** Poisson sampling rate: expected batch / number of records. */
  q: number;
  /** Noise standard deviation over the clip norm. */
  noiseMultiplier: number;
  steps: number;
}

export interface PrivacySpent {
  epsilon: number;
  delta: number;
  /** The Rényi order that gave the smallest epsilon. */
  order: number;
}

/** TF Privacy's default orders: fractional ones near 1 (small noise, many steps), integers, a few large. */
export const DEFAULT_ORDERS: readonly number[] = [1.25, 1.5, 1.75, 2, 2.25, 2.5, 3, 3.5, 4, 4.5, ...Array.from({ length: 59 }, (_, i) => i + 5), 128, 256, 512];

function logAdd(a: number, b: number): number {
  if (a === -Infinity) return b;
  if (b === -Infinity) return a;
  const hi = Math.max(a, b);
  return hi + Math.log1p(Math.exp(Math.min(a, b) - hi));
}

/** log(exp(a) - exp(b)) for a >= b. */
function logSub(a: number, b: number): number {
  if (b === -Infinity) return a;
  if (b > a) throw new Error('logSub: the result would be negative');
  if (a === b) return -Infinity;
  return a + Math.log(-Math.expm1(b - a));
}

const LOG_SQRT_PI = 0.5 * Math.log(Math.PI);

/**
 * log(erfc(x)), accurate for every x (erfc underflows past x ~ 27; its logarithm does not):
 * a continued fraction for x >= 3 (Lentz), the everywhere-positive series erf(x) = 2/sqrt(pi)
 * exp(-x^2) sum 2^n x^(2n+1) / (2n+1)!! below, erfc(-x) = 2 - erfc(x) for negative x.
 */
export function logErfc(x: number): number {
  if (Number.isNaN(x)) return NaN;
  if (x < 0) return Math.log(2 - Math.exp(logErfc(-x)));
  if (x < 3) {
    let term = x;
    let sum = x;
    for (let n = 1; n < 200 && term > 1e-17 * sum; n++) {
      term *= (2 * x * x) / (2 * n + 1);
      sum += term;
    }
    const erf = (2 / Math.sqrt(Math.PI)) * Math.exp(-x * x) * sum;
    return Math.log1p(-erf);
  }
  // erfc(x) = exp(-x^2)/sqrt(pi) * 1/(x + (1/2)/(x + 1/(x + (3/2)/(x + 2/(x + ...)))))
  const tiny = 1e-300;
  let f = x;
  let c = x;
  let d = 0;
  for (let k = 1; k < 500; k++) {
    const a = k / 2;
    d = x + a * d;
    d = d === 0 ? tiny : 1 / d;
    c = x + a / c;
    if (c === 0) c = tiny;
    const delta = c * d;
    f *= delta;
    if (Math.abs(delta - 1) < 1e-16) break;
  }
  return -x * x - LOG_SQRT_PI - Math.log(f);
}

function logBinomial(n: number, k: number): number {
  return logGamma(n + 1) - logGamma(k + 1) - logGamma(n - k + 1);
}

/** ln Gamma(x) for x > 0 (Lanczos, g = 7, n = 9: ~1e-15 relative). */
export function logGamma(x: number): number {
  if (x < 0.5) return Math.log(Math.PI / Math.abs(Math.sin(Math.PI * x))) - logGamma(1 - x);
  const c = [
    0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059, 12.507343278686905, -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7,
  ];
  x -= 1;
  let a = c[0];
  const t = x + 7.5;
  for (let i = 1; i < 9; i++) a += c[i] / (x + i);
  return 0.5 * Math.log(2 * Math.PI) + (x + 0.5) * Math.log(t) - t + Math.log(a);
}

/** log A_alpha for an integer order: the binomial expansion, summed in log space. */
export function logAInteger(q: number, sigma: number, alpha: number): number {
  let logA = -Infinity;
  for (let k = 0; k <= alpha; k++) {
    const term = logBinomial(alpha, k) + k * Math.log(q) + (alpha - k) * Math.log1p(-q) + (k * k - k) / (2 * sigma * sigma);
    logA = logAdd(logA, term);
  }
  return logA;
}

/**
 * log A_alpha for any order > 1 (TF Privacy's `_compute_log_a_frac`): the integral split at
 * z0 = sigma^2 log(1/q - 1) + 1/2, each side a series in generalized binomial coefficients with erfc
 * tails, summed until the terms fall below e^-30 of the scale.
 */
export function logAFractional(q: number, sigma: number, alpha: number): number {
  let logA0 = -Infinity;
  let logA1 = -Infinity;
  const z0 = sigma * sigma * Math.log(1 / q - 1) + 0.5;
  for (let i = 0; i < 100000; i++) {
    // generalized binomial C(alpha, i): its sign flips once i exceeds alpha
    let coefficient = 1;
    let logCoefficient = 0;
    for (let k = 0; k < i; k++) {
      const factor = (alpha - k) / (k + 1);
      coefficient *= Math.sign(factor);
      logCoefficient += Math.log(Math.abs(factor));
    }
    const j = alpha - i;
    const logT0 = logCoefficient + i * Math.log(q) + j * Math.log1p(-q);
    const logT1 = logCoefficient + j * Math.log(q) + i * Math.log1p(-q);
    const logE0 = Math.log(0.5) + logErfc((i - z0) / (Math.SQRT2 * sigma));
    const logE1 = Math.log(0.5) + logErfc((z0 - j) / (Math.SQRT2 * sigma));
    const logS0 = logT0 + (i * i - i) / (2 * sigma * sigma) + logE0;
    const logS1 = logT1 + (j * j - j) / (2 * sigma * sigma) + logE1;
    if (coefficient > 0) {
      logA0 = logAdd(logA0, logS0);
      logA1 = logAdd(logA1, logS1);
    } else {
      logA0 = logSub(logA0, logS0);
      logA1 = logSub(logA1, logS1);
    }
    if (Math.max(logS0, logS1) < -30) break;
  }
  return logAdd(logA0, logA1);
}

/** RDP of one sampled Gaussian step at order alpha. */
export function rdpOfStep(q: number, noiseMultiplier: number, alpha: number): number {
  if (!(q >= 0 && q <= 1)) throw new Error(`the sampling rate must be in [0, 1], got ${q}`);
  if (!(noiseMultiplier >= 0)) throw new Error(`the noise multiplier must be >= 0, got ${noiseMultiplier}`);
  if (q === 0) return 0;
  if (noiseMultiplier === 0) return Infinity;
  if (q === 1) return alpha / (2 * noiseMultiplier * noiseMultiplier);
  if (!Number.isFinite(alpha)) return Infinity;
  const logA = Number.isInteger(alpha) ? logAInteger(q, noiseMultiplier, alpha) : logAFractional(q, noiseMultiplier, alpha);
  return logA / (alpha - 1);
}

/** RDP of a composition at each order. */
export function rdpOf(runs: readonly SampledGaussianSteps[], orders: readonly number[] = DEFAULT_ORDERS): number[] {
  return orders.map((alpha) => runs.reduce((sum, run) => (run.steps === 0 ? sum : sum + run.steps * rdpOfStep(run.q, run.noiseMultiplier, alpha)), 0));
}

/** The smallest epsilon over the orders for this delta. */
export function epsilonFromRdp(rdp: readonly number[], delta: number, orders: readonly number[] = DEFAULT_ORDERS): PrivacySpent {
  if (!(delta > 0 && delta < 1)) throw new Error(`delta must be in (0, 1), got ${delta}`);
  let best: PrivacySpent = { epsilon: Infinity, delta, order: NaN };
  for (const [i, alpha] of orders.entries()) {
    if (!(alpha > 1) || !Number.isFinite(rdp[i])) continue;
    const epsilon = rdp[i] + Math.log((alpha - 1) / alpha) - (Math.log(delta) + Math.log(alpha)) / (alpha - 1);
    if (epsilon < best.epsilon) best = { epsilon: Math.max(0, epsilon), delta, order: alpha };
  }
  return best;
}

export function privacySpent(runs: readonly SampledGaussianSteps[], delta: number, orders: readonly number[] = DEFAULT_ORDERS): PrivacySpent {
  return epsilonFromRdp(rdpOf(runs, orders), delta, orders);
}

/**
 * The smallest noise multiplier whose `steps` steps at rate q spend at most `targetEpsilon`
 * (bisection on log sigma to 0.1%; throws when even sigma = 1000 cannot reach the target).
 */
export function noiseForEpsilon(targetEpsilon: number, delta: number, q: number, steps: number, orders: readonly number[] = DEFAULT_ORDERS): number {
  if (!(targetEpsilon > 0 && Number.isFinite(targetEpsilon))) throw new Error(`the target epsilon must be a positive number, got ${targetEpsilon}`);
  const epsilonAt = (sigma: number) => privacySpent([{ q, noiseMultiplier: sigma, steps }], delta, orders).epsilon;
  let hi = 1;
  while (epsilonAt(hi) > targetEpsilon) {
    hi *= 2;
    if (hi > 1000) throw new Error(`no noise multiplier up to 1000 reaches epsilon ${targetEpsilon} in ${steps} steps at sampling rate ${q}: train fewer iterations or allow a larger epsilon`);
  }
  let lo = hi / 2;
  while (lo > 1e-3 && epsilonAt(lo) <= targetEpsilon) {
    hi = lo;
    lo /= 2;
  }
  while (hi / lo > 1.001) {
    const mid = Math.sqrt(lo * hi);
    if (epsilonAt(mid) <= targetEpsilon) hi = mid;
    else lo = mid;
  }
  return hi;
}
