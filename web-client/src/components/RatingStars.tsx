import type { Rating } from '../chat/protocol';
import { describeScore, starsText } from '../chat/ratings';
import '../ratings.css';

/**
 * A given rating, read-only: "★★★★☆" (read as "Rated 4 out of 5 stars"),
 * and the comment when asked for.
 */
export function RatingStars({ rating, withComment = false }: { rating: Rating; withComment?: boolean }) {
  return (
    <span className="rating-given" data-testid="rating-stars" data-score={rating.score}>
      <span className="rating-given__stars" role="img" aria-label={`Rated ${describeScore(rating.score)}`} title={`Rated ${describeScore(rating.score)}`}>
        {starsText(rating.score)}
      </span>
      {withComment && rating.comment ? <q className="rating-given__comment">{rating.comment}</q> : null}
    </span>
  );
}
