/**
 * Measurement-metadata dependence (DoppelGANger's "total bandwidth per technology"): does each attribute
 * value come with the right feature levels? Per category, the mean of the per-series means of a feature
 * is compared between real and other data, in units of the standard deviation of per-series means over
 * the whole real dataset. That unit is deliberate: per-series means of heavy-tailed features occupy a
 * small part of the value range, so a range-normalised gap barely moves even when the dependence is lost.
 */

import { mean, std } from '../util/stats.ts';
import { ksStatistic } from './distances.ts';

export interface CategoryComparison {
  category: string;
  realCount: number;
  otherCount: number;
  /** Mean over the category's series of the per-series mean. */
  realMean: number;
  /** null where the other data has no series of this category. */
  otherMean: number | null;
  realStd: number;
  otherStd: number | null;
  /** |otherMean - realMean| / (std of per-series means over all real series); with no other series of
   * this category, the other data's overall mean stands in (it carries no knowledge of the category). */
  gapInStd: number;
  /** KS statistic between the category's real and other per-series means; null without other series. */
  ks: number | null;
  /** The gap expected from sampling alone if both samples came from the real distribution:
   * E|N(0, realStd^2 (1/realCount + 1/otherCount))| / unit = sqrt(2/pi) realStd sqrt(1/realCount + 1/otherCount) / unit. */
  noiseFloor: number;
}

export interface DependenceResult {
  /** sum over categories of realShare * gapInStd: the real-frequency-weighted mean gap. */
  weightedGap: number;
  /** The unit: std of per-series means over all real series (1 where that is 0). */
  unit: number;
  /** sum over categories of realShare * noiseFloor: the weighted gap two samples of these sizes drawn from the
   * real distribution would show. A weightedGap near it means the dependence is kept as well as can be told. */
  noiseFloor: number;
  categories: CategoryComparison[];
}

/**
 * realLabels[s] / realSeriesMeans[s]: category and per-series mean of real series s; the same for other.
 * Categories are those of the real data (a category only the other data has gets no real weight).
 */
export function metadataDependence(
  realLabels: ReadonlyArray<string>,
  realSeriesMeans: ReadonlyArray<number>,
  otherLabels: ReadonlyArray<string>,
  otherSeriesMeans: ReadonlyArray<number>,
): DependenceResult {
  const spread = std(realSeriesMeans);
  const unit = spread > 0 ? spread : 1;
  const otherOverall = mean(otherSeriesMeans);
  const group = (labels: ReadonlyArray<string>, values: ReadonlyArray<number>) => {
    const groups = new Map<string, number[]>();
    labels.forEach((label, i) => {
      const list = groups.get(label);
      if (list) list.push(values[i]);
      else groups.set(label, [values[i]]);
    });
    return groups;
  };
  const realGroups = group(realLabels, realSeriesMeans);
  const otherGroups = group(otherLabels, otherSeriesMeans);
  const categories: CategoryComparison[] = [];
  let weightedGap = 0;
  let noiseFloor = 0;
  for (const [category, realValues] of realGroups) {
    const otherValues = otherGroups.get(category);
    const realMean = mean(realValues);
    const otherMean = otherValues ? mean(otherValues) : null;
    const gapInStd = Math.abs((otherMean ?? otherOverall) - realMean) / unit;
    const realStd = std(realValues);
    const otherCount = otherValues?.length ?? 0;
    const categoryNoise = (Math.sqrt(2 / Math.PI) * realStd * Math.sqrt(1 / realValues.length + (otherCount > 0 ? 1 / otherCount : 0))) / unit;
    categories.push({
      category,
      realCount: realValues.length,
      otherCount,
      realMean,
      otherMean,
      realStd,
      otherStd: otherValues ? std(otherValues) : null,
      gapInStd,
      ks: otherValues ? ksStatistic(realValues, otherValues) : null,
      noiseFloor: categoryNoise,
    });
    weightedGap += (realValues.length / realLabels.length) * gapInStd;
    noiseFloor += (realValues.length / realLabels.length) * categoryNoise;
  }
  categories.sort((a, b) => b.realCount - a.realCount || a.category.localeCompare(b.category));
  return { weightedGap, unit, noiseFloor, categories };
}
