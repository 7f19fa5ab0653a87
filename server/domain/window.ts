// Time windows are shared with the extension: they live in server/protocol/window.ts.
export { checkWindow, isWithinWindow, localTime, parseWindow, type TimeWindow } from '../protocol/window.js';
