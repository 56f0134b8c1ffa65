import type { Report } from '../chat/protocol';
import { bucketLabel, figure, type ReportField } from '../chat/reports';

const COLUMNS: { field: ReportField; label: string }[] = [
  { field: 'opened', label: 'Opened' },
  { field: 'assigned', label: 'Assigned' },
  { field: 'closed', label: 'Closed' },
  { field: 'messages', label: 'Messages' },
  { field: 'avgWaitSeconds', label: 'Average wait (s)' },
  { field: 'avgFirstResponseSeconds', label: 'Average first response (s)' },
  { field: 'ratings', label: 'Ratings' },
  { field: 'avgRating', label: 'Average rating (of 5)' },
];

/**
 * Every figure of the report as the server sent it, one row per bucket
 * (the charts' accessible twin; "—" where there was nothing to average).
 */
export function ReportTable({ report }: { report: Report }) {
  return (
    <details className="report-table">
      <summary>Show the figures as a table</summary>
      <div className="report-table__scroll">
        <table data-testid="report-table">
          <caption className="visually-hidden">Figures by {report.bucket} (UTC)</caption>
          <thead>
            <tr>
              <th scope="col">{report.bucket === 'hour' ? 'Hour (UTC)' : 'Day (UTC)'}</th>
              {COLUMNS.map((c) => (
                <th key={c.field} scope="col">
                  {c.label}
                </th>
              ))}
            </tr>
          </thead>
          <tbody>
            {report.buckets.map((b) => (
              <tr key={b.start} data-start={b.start}>
                <th scope="row">{bucketLabel(Date.parse(b.start) / 1000, report.bucket)}</th>
                {COLUMNS.map((c) => {
                  const v = figure(b, c.field);
                  return (
                    <td key={c.field} data-field={c.field} data-value={v === null ? 'null' : String(v)}>
                      {v === null ? '—' : String(v)}
                    </td>
                  );
                })}
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </details>
  );
}
