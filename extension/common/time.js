// The companion sends ISO 8601 times in UTC. A time without a zone is read as UTC too (Date.parse
// would take it as local time, hours off in Japan).

/** Milliseconds since the epoch, or NaN. */
export function parseTime(iso) {
  if (typeof iso !== "string" || !iso) return Number.NaN;
  const hasZone = /(?:Z|[+-]\d{2}:?\d{2})$/i.test(iso);
  return Date.parse(hasZone || !iso.includes("T") ? iso : `${iso}Z`);
}
