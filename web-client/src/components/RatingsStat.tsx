import { formatRatingSummary, ratingSummary } from '../chat/ratings';
import '../ratings.css';

/**
 * The dashboard's "Ratings" figure (PROTOCOL §10, `Stats.ratingsToday` and
 * `avgRatingToday`): "4.6 ★ (12 today)", "— (0 today)", the count smaller.
 */
export function RatingsStat({ count, average }: { count: number; average: number | null | undefined }) {
  const parts = ratingSummary(count, average);
  return (
    <div className="stat">
      <dt>Ratings</dt>
      <dd
        data-testid="stat-ratings"
        data-count={count}
        data-average={count > 0 && typeof average === 'number' ? average : ''}
        title={formatRatingSummary(count, average)}
      >
        {parts.average} <span className="stat__aside">{parts.count}</span>
      </dd>
    </div>
  );
}
