/**
 * echarts on an element: `<div {@attach chart(() => option)} class="chart"></div>`. The instance is made
 * once per element, takes every new option (live training updates in place) and follows the element's
 * size. SVG rendering: crisp, and nothing the CSP would refuse.
 */
import * as echarts from 'echarts';
import type { Attachment } from 'svelte/attachments';

export type ChartOption = echarts.EChartsCoreOption;

export function chart(option: () => ChartOption): Attachment<HTMLElement> {
  return (node) => {
    const instance = echarts.init(node, undefined, { renderer: 'svg' });
    const observer = new ResizeObserver(() => instance.resize());
    observer.observe(node);
    $effect(() => {
      instance.setOption(option(), { notMerge: true });
    });
    return () => {
      observer.disconnect();
      instance.dispose();
    };
  };
}
