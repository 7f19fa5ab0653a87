// Time windows are shared with the extension: they live in server/protocol/window.ts.
export { isWithinWindow, parseWindow } from '../protocol/window.js';
