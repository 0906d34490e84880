/**
 * Charts as inline SVG strings through echarts' server-side renderer: the report needs no script or
 * network to be viewed.
 */

import { createRequire } from 'node:module';
import type * as Echarts from 'echarts';

let loaded: typeof Echarts | undefined;

/**
 * echarts, loaded at the first chart (its ES modules take most of a second to load; commands that draw
 * nothing should not pay for them). Through require, so that rendering stays synchronous: its CommonJS
 * build is one prebuilt file, quicker to load than the ES modules.
 */
function echarts(): typeof Echarts {
  loaded ??= createRequire(import.meta.url)('echarts') as typeof Echarts;
  return loaded;
}

export const COLORS = { real: '#1f6fb4', synthetic: '#d9480f', holdout: '#868e96' };

type Option = Echarts.EChartsCoreOption;

export function renderSvg(option: Option, width = 460, height = 280): string {
  const chart = echarts().init(null, null, { renderer: 'svg', ssr: true, width, height });
  try {
    chart.setOption({ animation: false, textStyle: { fontFamily: 'sans-serif' }, ...option });
    return chart.renderToSVGString();
  } finally {
    chart.dispose();
  }
}

interface NamedSeries {
  name: string;
  color: string;
  data: Array<number | null>;
  dashed?: boolean;
}

function frame(title: string, legend: string[], bottom = 40): Option {
  return {
    title: { text: title, left: 'center', textStyle: { fontSize: 13 } },
    legend: { data: legend, top: 32, textStyle: { fontSize: 11 } },
    grid: { left: 56, right: 16, top: 76, bottom },
  };
}

export function lineChart(title: string, x: Array<number | string>, series: NamedSeries[], axisNames: { x?: string; y?: string } = {}): string {
  return renderSvg({
    ...frame(
      title,
      series.map((s) => s.name),
    ),
    xAxis: { type: 'category', data: x.map(String), name: axisNames.x, nameLocation: 'middle', nameGap: 24 },
    yAxis: { type: 'value', name: axisNames.y, scale: true },
    series: series.map((s) => ({
      name: s.name,
      type: 'line',
      data: s.data,
      showSymbol: false,
      connectNulls: false,
      lineStyle: { color: s.color, width: 1.5, type: s.dashed ? 'dashed' : 'solid' },
      itemStyle: { color: s.color },
    })),
  });
}

/** Bars per category; `binned` is for histograms, whose bin labels may be thinned out instead of all shown. */
export function barChart(title: string, categories: string[], series: NamedSeries[], axisNames: { x?: string; y?: string } = {}, width = 460, binned = false): string {
  const rotate = categories.length > 8 ? (binned ? 45 : 60) : 0;
  return renderSvg(
    {
      ...frame(
        title,
        series.map((s) => s.name),
        rotate ? 90 : 40,
      ),
      xAxis: { type: 'category', data: categories, axisLabel: { rotate, fontSize: 10, interval: binned ? 'auto' : 0 }, name: axisNames.x },
      yAxis: { type: 'value', name: axisNames.y },
      series: series.map((s) => ({ name: s.name, type: 'bar', data: s.data, itemStyle: { color: s.color }, barGap: '5%' })),
    },
    width,
    rotate ? 320 : 280,
  );
}

/** Several series drawn as thin lines of one colour per group (for sample series). */
export function sampleChart(title: string, groups: Array<{ name: string; color: string; lines: number[][] }>, yRange: [number, number]): string {
  const steps = Math.max(0, ...groups.flatMap((g) => g.lines.map((l) => l.length)));
  return renderSvg({
    ...frame(
      title,
      groups.map((g) => g.name),
    ),
    xAxis: { type: 'category', data: Array.from({ length: steps }, (_, t) => String(t)), name: 'step', nameLocation: 'middle', nameGap: 24 },
    yAxis: { type: 'value', min: yRange[0], max: yRange[1] },
    series: groups.flatMap((g) =>
      g.lines.map((line) => ({ name: g.name, type: 'line', data: line, showSymbol: false, lineStyle: { color: g.color, width: 1, opacity: 0.8 }, itemStyle: { color: g.color } })),
    ),
  });
}
