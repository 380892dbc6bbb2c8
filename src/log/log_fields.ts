/**
 * The fields of a log line (a leaf module: the logger and its value renderer both use it).
 *
 * @module
 */

/** Structured fields attached to a log line. */
export type LogFields = Record<string, unknown>;
