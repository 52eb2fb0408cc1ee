// Seedbed: index.d.ts declares `export = postgres` (CommonJS); src/index.js is ESM with a default export.
import postgres = require("./index.d.ts");
export default postgres;
