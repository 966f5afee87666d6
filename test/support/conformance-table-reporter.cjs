// Jest reporter for `npm run test:conformance`: the OpenID Foundation's Basic OP plan (OIDCCBasicTestPlan.java, its
// order) as a table of module → pass/fail, from the tests named by module id. A module with no test says so.
const PLAN = [
  'oidcc-server',
  'oidcc-response-type-missing',
  'oidcc-idtoken-signature',
  'oidcc-idtoken-unsigned',
  'oidcc-userinfo-get',
  'oidcc-userinfo-post-header',
  'oidcc-userinfo-post-body',
  'oidcc-ensure-request-without-nonce-succeeds-for-code-flow',
  'oidcc-scope-profile',
  'oidcc-scope-email',
  'oidcc-scope-address',
  'oidcc-scope-phone',
  'oidcc-scope-all',
  'oidcc-ensure-other-scope-order-succeeds',
  'oidcc-display-page',
  'oidcc-display-popup',
  'oidcc-prompt-login',
  'oidcc-prompt-none-not-logged-in',
  'oidcc-prompt-none-logged-in',
  'oidcc-max-age-1',
  'oidcc-max-age-10000',
  'oidcc-ensure-request-with-unknown-parameter-succeeds',
  'oidcc-id-token-hint',
  'oidcc-login-hint',
  'oidcc-ui-locales',
  'oidcc-claims-locales',
  'oidcc-ensure-request-with-acr-values-succeeds',
  'oidcc-codereuse',
  'oidcc-codereuse-30seconds',
  'oidcc-ensure-registered-redirect-uri',
  'oidcc-ensure-post-request-succeeds',
  'oidcc-server-client-secret-post',
  'oidcc-request-uri-unsigned-supported-correctly-or-rejected-as-unsupported',
  'oidcc-unsigned-request-object-supported-correctly-or-rejected-as-unsupported',
  'oidcc-claims-essential',
  'oidcc-ensure-request-object-with-redirect-uri',
  'oidcc-refresh-token',
  'oidcc-ensure-request-with-valid-pkce-succeeds',
];

/** @VariantNotApplicable(ClientRegistration static_client): our clients are registered by an admin, never dynamically. */
const NOT_APPLICABLE = new Set([
  'oidcc-idtoken-signature',
  'oidcc-idtoken-unsigned',
  'oidcc-request-uri-unsigned-supported-correctly-or-rejected-as-unsupported',
]);

/** Where the suite would pass us with a warning (each test says why, beside the assertion); none today. */
const WARNINGS = new Map([]);

class ConformanceTableReporter {
  constructor() {
    this.results = new Map(PLAN.map((m) => [m, []]));
  }

  onTestResult(_test, testResult) {
    for (const t of testResult.testResults) {
      const r = this.results.get(t.title);
      if (r) r.push(t.status);
    }
  }

  onRunComplete() {
    const lines = ['', 'OpenID Foundation Basic OP plan (oidcc-basic-certification-test-plan)', '| module | result |', '| --- | --- |'];
    const count = { pass: 0, FAIL: 0, skipped: 0, 'n/a (static client)': 0, 'NO TEST': 0 };
    for (const [module, statuses] of this.results) {
      const result = statuses.includes('failed')
        ? 'FAIL'
        : statuses.includes('passed')
          ? 'pass'
          : statuses.length
            ? 'skipped'
            : NOT_APPLICABLE.has(module)
              ? 'n/a (static client)'
              : 'NO TEST';
      count[result]++;
      lines.push(
        `| ${module} | ${result === 'pass' && WARNINGS.has(module) ? `pass, the suite would warn: ${WARNINGS.get(module)}` : result} |`,
      );
    }
    lines.push(
      '',
      Object.entries(count)
        .map(([k, v]) => `${v} ${k}`)
        .join(', '),
    );
    process.stdout.write(`${lines.join('\n')}\n`);
  }
}

module.exports = ConformanceTableReporter;
