/**
 * Adam exactly as core/model/README.md writes it (tf.train.adam folds the bias correction into the
 * learning rate and epsilon differently, so it would not match the native core).
 */
import * as tf from '@tensorflow/tfjs-core';

export const ADAM_EPSILON = 1e-8;

export interface AdamSlots {
  m: tf.Variable;
  v: tf.Variable;
}

export interface AdamSettings {
  learningRate: number;
  beta1: number;
  beta2: number;
}

/**
 * One update, t = this network's step count (1 for its first update):
 * m = b1 m + (1-b1) g; v = b2 v + (1-b2) g^2; p -= lr mhat / (sqrt(vhat) + 1e-8),
 * mhat = m / (1 - b1^t), vhat = v / (1 - b2^t).
 */
export function adamStep(params: tf.Variable[], grads: tf.Tensor[], slots: AdamSlots[], t: number, settings: AdamSettings): void {
  const { learningRate, beta1, beta2 } = settings;
  const mCorrection = 1 - beta1 ** t;
  const vCorrection = 1 - beta2 ** t;
  tf.tidy(() => {
    params.forEach((p, k) => {
      const g = grads[k];
      const { m, v } = slots[k];
      const mNext = tf.add(tf.mul(beta1, m), tf.mul(1 - beta1, g));
      const vNext = tf.add(tf.mul(beta2, v), tf.mul(1 - beta2, tf.square(g)));
      const mHat = tf.div(mNext, mCorrection);
      const vHat = tf.div(vNext, vCorrection);
      p.assign(tf.sub(p, tf.mul(learningRate, tf.div(mHat, tf.add(tf.sqrt(vHat), ADAM_EPSILON)))));
      m.assign(mNext);
      v.assign(vNext);
    });
  });
}
