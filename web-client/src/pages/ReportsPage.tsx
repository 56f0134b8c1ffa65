import { useCallback, useEffect, useId, useState } from 'react';
import { ChatError, type Report, type ReportBucketSize } from '../chat/protocol';
import { REPORT_CHARTS, rangeLabel, reportTotals } from '../chat/reports';
import { ReportChart } from '../components/ReportChart';
import { ReportTable } from '../components/ReportTable';
import { SignInForm } from '../components/SignInForm';
import { useIdentity } from '../hooks/useIdentity';
import { hasAdminRole } from '../lib/identity';
import { api } from '../lib/api';
import { formatTime } from '../lib/format';
import '../reports.css';

const RANGES: { bucket: ReportBucketSize; label: string }[] = [
  { bucket: 'hour', label: 'Last 24 hours' },
  { bucket: 'day', label: 'Last 30 days' },
];

/** How often the figures are fetched again while the page is visible. */
const REFRESH_MS = 60_000;

/**
 * Reports for staff (`GET /api/chat/reports`, PROTOCOL §10): the last 24
 * hours by hour and the last 30 days by day (the server's default ranges),
 * as charts and as a table. Shares the dashboard's sign-in (the same tab
 * identity).
 */
export function ReportsPage() {
  const auth = useIdentity('agent');
  return (
    <div className="console">
      <header className="site-bar">
        <a href="/" className="brand">
          <span className="brand__mark" aria-hidden="true" />
          Switchboard
        </a>
        <div className="site-bar__right">
          <a className="btn btn--ghost btn--small" href="/dashboard">
            Dashboard
          </a>
          <a className="btn btn--ghost btn--small" href="/settings">
            Settings
          </a>
          {auth.status === 'ready' && auth.token && hasAdminRole(auth.token) ? (
            <a className="btn btn--ghost btn--small" href="/integrations">
              Integrations
            </a>
          ) : null}
          {auth.status === 'ready' && auth.identity ? <span className="agent-name">{auth.identity.name}</span> : null}
        </div>
      </header>
      <main id="main" className="reports-page">
        <h1 className="reports-page__title">Reports</h1>
        {auth.status === 'ready' && auth.token ? (
          <Reports token={auth.token} />
        ) : auth.status === 'signing-in' ? (
          <p className="muted" role="status">
            Signing in…
          </p>
        ) : (
          <SignInForm
            title="Agent sign-in"
            intro="Demo mode: reports are for agents and administrators."
            label="Your name"
            submitLabel="Open reports"
            error={auth.error}
            adminOption
            onSubmit={(name, asAdmin) => void auth.signIn(name, asAdmin ? 'admin' : 'agent')}
          />
        )}
      </main>
    </div>
  );
}

type Loaded = { report: Report; at: number };

function Reports({ token }: { token: string }) {
  const id = useId();
  const [bucket, setBucket] = useState<ReportBucketSize>('hour');
  const [loaded, setLoaded] = useState<Partial<Record<ReportBucketSize, Loaded>>>({});
  const [loading, setLoading] = useState(false);
  const [error, setError] = useState<string | null>(null);

  const load = useCallback(
    async (which: ReportBucketSize, signal?: { cancelled: boolean }) => {
      setLoading(true);
      try {
        const report = await api.getReport(token, { bucket: which });
        if (signal?.cancelled) return;
        setLoaded((all) => {
          // The same figures again: keep the object, so the charts are not drawn again.
          const known = all[which]?.report;
          const same = known && JSON.stringify(known) === JSON.stringify(report);
          return { ...all, [which]: { report: same ? known : report, at: Date.now() } };
        });
        setError(null);
      } catch (err) {
        if (signal?.cancelled) return;
        setError(reportError(err as Error));
      } finally {
        if (!signal?.cancelled) setLoading(false);
      }
    },
    [token],
  );

  // The chosen range now, then again every minute while the page is seen.
  useEffect(() => {
    const signal = { cancelled: false };
    void load(bucket, signal);
    const timer = setInterval(() => {
      if (document.visibilityState === 'visible') void load(bucket, signal);
    }, REFRESH_MS);
    return () => {
      signal.cancelled = true;
      clearInterval(timer);
    };
  }, [bucket, load]);

  const current = loaded[bucket];
  const totals = current ? reportTotals(current.report) : null;

  return (
    <div className="reports" data-testid="reports" data-bucket={bucket}>
      <div className="reports__toolbar">
        <fieldset className="segmented reports__range">
          <legend className="visually-hidden">Period</legend>
          {RANGES.map((r) => (
            <label key={r.bucket} className="segmented__option reports__range-option">
              <input
                type="radio"
                name={`${id}-range`}
                value={r.bucket}
                checked={bucket === r.bucket}
                onChange={() => setBucket(r.bucket)}
              />
              <span>{r.label}</span>
            </label>
          ))}
        </fieldset>
        <button type="button" className="btn btn--ghost btn--small" onClick={() => void load(bucket)} disabled={loading}>
          {loading ? 'Loading…' : 'Refresh'}
        </button>
        {current ? (
          <span className="muted small reports__updated" role="status">
            {rangeLabel(current.report)}, by {current.report.bucket} · updated {formatTime(new Date(current.at).toISOString())}
          </span>
        ) : null}
      </div>
      {error ? (
        <p className="form__error" role="alert">
          {error}
        </p>
      ) : null}
      {!current ? (
        error ? null : (
          <p className="muted" role="status">
            Loading…
          </p>
        )
      ) : (
        <div
          className="reports__content"
          data-testid="report"
          data-bucket={current.report.bucket}
          data-from={current.report.from}
          data-to={current.report.to}
        >
          {totals ? (
            <dl className="stats reports__totals" aria-label="Totals for the period">
              <Total label="Chats opened" value={totals.opened} />
              <Total label="Assigned" value={totals.assigned} />
              <Total label="Closed" value={totals.closed} />
              <Total label="Messages" value={totals.messages} />
              <Total label="Ratings" value={totals.ratings} />
            </dl>
          ) : null}
          <div className="reports__charts">
            {REPORT_CHARTS.map((spec) => (
              <ReportChart key={spec.id} spec={spec} report={current.report} />
            ))}
          </div>
          <ReportTable report={current.report} />
        </div>
      )}
    </div>
  );
}

function Total({ label, value }: { label: string; value: number }) {
  return (
    <div className="stat">
      <dt>{label}</dt>
      <dd>{value}</dd>
    </div>
  );
}

function reportError(err: Error): string {
  if (err instanceof ChatError) {
    if (err.code === 'forbidden') return 'Reports are for agents and administrators.';
    if (err.code === 'not_found') return 'This server has no reports (it speaks protocol v1.2).';
  }
  return `The report could not be loaded: ${err.message}`;
}
