/** What every nalm plot shares: its look and the tooltip of a success rate (plots.ts, grid.ts, nsr/report.ts). */

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
