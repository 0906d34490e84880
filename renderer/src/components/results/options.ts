/**
 * echarts options for the result charts, from the series core delivers (presentation only: colours,
 * axes, legends; no numbers are computed here).
 */
import type { ChartOption } from '../../lib/chart.svelte';
import type { LineSet } from './types';

export const COLORS: Record<string, string> = { real: '#1f57c3', synthetic: '#c2410c', holdout: '#5b6475' };

const base = (title: string): ChartOption => ({
  animation: false,
  title: { text: title, left: 0, textStyle: { fontSize: 13, fontWeight: 600, color: '#1d2330' } },
  legend: { top: 22, left: 0, itemWidth: 14, textStyle: { color: '#1d2330' } },
  tooltip: { trigger: 'axis' },
  grid: { left: 48, right: 12, top: 56, bottom: 36 },
});

const axisName = (name: string) => ({ name, nameLocation: 'middle' as const, nameGap: 26, nameTextStyle: { color: '#4a5263' }, axisLabel: { color: '#4a5263' } });

export function linesOption(title: string, x: Array<string | number>, lines: LineSet[], labels: { x: string; y: string }): ChartOption {
  return {
    ...base(title),
    xAxis: { type: 'category', data: x.map(String), ...axisName(labels.x) },
    yAxis: { type: 'value', axisLabel: { color: '#4a5263' } },
    series: lines.map((l) => ({ name: l.name, type: 'line', data: l.data, showSymbol: false, color: COLORS[l.name], lineStyle: l.name === 'holdout' ? { type: 'dashed' } : undefined })),
  };
}

export function barsOption(title: string, categories: string[], lines: LineSet[], labels: { x: string; y: string }): ChartOption {
  return {
    ...base(title),
    xAxis: { type: 'category', data: categories, ...axisName(labels.x), axisLabel: { color: '#4a5263', hideOverlap: true } },
    yAxis: { type: 'value', axisLabel: { color: '#4a5263' } },
    series: lines.map((l) => ({ name: l.name, type: 'bar', data: l.data, color: COLORS[l.name], barGap: '5%' })),
  };
}

/** Whole series on one scale: thin lines, one colour per side. */
export function samplesOption(title: string, name: 'real' | 'synthetic', lines: Array<{ label: string; values: number[] }>, range: [number, number]): ChartOption {
  const length = Math.max(0, ...lines.map((l) => l.values.length));
  return {
    ...base(title),
    legend: { show: false },
    grid: { left: 48, right: 12, top: 30, bottom: 28 },
    xAxis: { type: 'category', data: Array.from({ length }, (_, i) => String(i)), axisLabel: { color: '#4a5263' } },
    yAxis: { type: 'value', min: range[0], max: range[1], axisLabel: { color: '#4a5263' } },
    series: lines.map((l) => ({ name: l.label, type: 'line', data: l.values, showSymbol: false, color: COLORS[name], lineStyle: { width: 1.2, opacity: 0.85 } })),
  };
}

export function tradeoffOption(points: Array<{ label: string; x: number; y: number }>, labels: { x: string; y: string }): ChartOption {
  const palette = ['#1f57c3', '#c2410c', '#2b8a3e', '#7048e8', '#b07d00', '#0b7285'];
  return {
    animation: false,
    tooltip: { trigger: 'item', formatter: (p: { seriesName: string; value: number[] }) => `${p.seriesName}<br>attack AUC ${p.value[0].toFixed(2)}, told apart ${(100 * p.value[1]).toFixed(0)}%` },
    legend: { top: 0, left: 0, textStyle: { color: '#1d2330' } },
    grid: { left: 64, right: 24, top: 40, bottom: 52 },
    xAxis: { type: 'value', min: 0.4, max: 1, name: labels.x, nameLocation: 'middle', nameGap: 30, nameTextStyle: { color: '#4a5263' }, axisLabel: { color: '#4a5263' } },
    yAxis: { type: 'value', min: 0.4, max: 1, name: labels.y, nameLocation: 'middle', nameGap: 44, nameTextStyle: { color: '#4a5263' }, axisLabel: { color: '#4a5263' } },
    series: points.map((p, i) => ({
      name: p.label,
      type: 'scatter',
      symbolSize: 16,
      color: palette[i % palette.length],
      data: [[p.x, p.y]],
      markLine: i === 0 ? { silent: true, symbol: 'none', lineStyle: { color: '#9aa3b2', type: 'dashed' }, data: [{ xAxis: 0.5 }, { yAxis: 0.5 }], label: { show: false } } : undefined,
    })),
  };
}
