// Scan HOST on HTTPS_PORT and HTTP_PORT; print the grade, the score and each test's pass/result.
import { scan } from "/observatory/node_modules/@mdn/mdn-http-observatory/src/scanner/index.js";

const [host, httpsPort, httpPort] = process.argv.slice(2);
const result = await scan(host, { httpsPort: Number(httpsPort), httpPort: Number(httpPort) });
const tests = Object.fromEntries(
  Object.entries(result.tests).map(([name, test]) => [name, { pass: test.pass, result: test.result }]),
);
console.log(JSON.stringify({ grade: result.scan.grade, score: result.scan.score, tests }));
