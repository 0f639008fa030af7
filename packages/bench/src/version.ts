/** The version written into result stores and reports. */
export const NALM_VERSION = '0.1.0';
