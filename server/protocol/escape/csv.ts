// One CSV cell (RFC 4180) that a spreadsheet shows as text: a cell starting with =, +, -, @, tab
// or carriage return would be run as a formula (CSV injection), so it gets a leading apostrophe,
// which spreadsheets hide and treat as "this is text".

export function csvCell(value: unknown): string {
  const text = value === undefined || value === null ? '' : typeof value === 'string' ? value : JSON.stringify(value);
  const safe = /^[=+\-@\t\r]/.test(text) ? `'${text}` : text;
  return /[",\r\n]/.test(safe) ? `"${safe.replace(/"/g, '""')}"` : safe;
}

export const csvRow = (values: readonly unknown[]): string => values.map(csvCell).join(',');
