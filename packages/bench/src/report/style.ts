/** What every nalm plot shares: its look, the tooltip of a success rate and the per-operation facet (plots.ts, grid.ts, nsr/report.ts). */

/** Tooltip fields of a success rate with its Wilson interval (data fields success, lower, upper, label). */
export const SUCCESS_TOOLTIP = [
  { field: 'success', title: 'success (%)', format: '.1f' },
  { field: 'lower', title: 'lower (%)', format: '.1f' },
  { field: 'upper', title: 'upper (%)', format: '.1f' },
  { field: 'label', title: 'solved/seeds' },
];

const FONT = 'Helvetica, Arial, sans-serif';
/** The look every nalm plot shares (fonts, title, axes). */
export const BASE_CONFIG = {
  font: FONT,
  background: 'white',
  view: { stroke: '#d0d0d0' },
  title: { anchor: 'start' as const, fontSize: 15, subtitleFontSize: 11, subtitleColor: '#555', offset: 10 },
  axis: { labelFontSize: 10, titleFontSize: 11, gridColor: '#ececec' },
  header: { labelFontSize: 13, titleFontSize: 12, labelFontWeight: 'bold' as const },
  legend: { labelFontSize: 10, titleFontSize: 11 },
};

/** One panel per operation, in table order, wrapped in rows of at most `maxColumns`. */
export function operationFacet(ops: string[], maxColumns = 3) {
  return {
    facet: {
      field: 'operation',
      type: 'nominal' as const,
      title: 'operation',
      sort: ops,
      header: { labelAnchor: 'start' as const },
    },
    columns: facetColumns(ops.length, maxColumns),
  };
}

/** Columns of a wrapped facet: readable for 1 to ~50 panels. */
export function facetColumns(panels: number, max = 4): number {
  if (panels <= max) return Math.max(1, panels);
  if (panels > 24) return Math.max(max, 6);
  return max;
}
