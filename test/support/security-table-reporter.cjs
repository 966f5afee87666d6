// Jest reporter: the security checklist (its rows and their tests: SECURITY.md) as a table of row → pass/fail, from
// the tests whose names start with row ids ("F1: …", "S3, F8: …"). Printed after `npm test` and `npm run test:security`.
const ROWS = [
  'F1',
  'F2',
  'F3',
  'F4',
  'F5',
  'F6',
  'F7',
  'F8',
  'F9',
  'F10',
  'I1',
  'I2',
  'I3',
  'I4',
  'I5',
  'J1',
  'J2',
  'J3',
  'J4',
  'R1',
  'R2',
  'R3',
  'S1',
  'S2',
  'S3',
  'S4',
  'S5',
  'L1',
  'L2',
  'L3',
  'O1',
  'O2',
  'O3',
  'O4',
  'O5',
  'O6',
  'O7',
  'O8',
  'O9',
  'O10',
  'O11',
  'O12',
  'O13',
  'O14',
  'O15',
  'O16',
  'O17',
  'O18',
  'O19',
];
const ROW_PREFIX = /^((?:[FIJLORS]\d+(?:, )?)+):/;

class SecurityTableReporter {
  constructor() {
    this.results = new Map(ROWS.map((r) => [r, { passed: 0, failed: 0, skipped: 0 }]));
  }

  onTestResult(_test, testResult) {
    for (const t of testResult.testResults) {
      const m = ROW_PREFIX.exec(t.title);
      if (!m) continue;
      for (const row of m[1].split(', ')) {
        const r = this.results.get(row);
        if (!r) continue;
        if (t.status === 'passed') r.passed++;
        else if (t.status === 'failed') r.failed++;
        else r.skipped++;
      }
    }
  }

  onRunComplete() {
    const seen = [...this.results.values()].some((r) => r.passed + r.failed + r.skipped > 0);
    if (!seen) return;
    const lines = ['', 'Security checklist (SECURITY.md)', '| row | result | tests |', '| --- | --- | --- |'];
    for (const [row, r] of this.results) {
      const result = r.failed ? 'FAIL' : r.passed ? 'pass' : r.skipped ? 'skipped' : 'NO TEST';
      lines.push(
        `| ${row} | ${result} | ${r.passed} passed${r.failed ? `, ${r.failed} failed` : ''}${r.skipped ? `, ${r.skipped} skipped` : ''} |`,
      );
    }
    process.stdout.write(`${lines.join('\n')}\n`);
  }
}

module.exports = SecurityTableReporter;
