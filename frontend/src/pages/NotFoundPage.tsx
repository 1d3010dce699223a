import { Link } from 'react-router';
import { paths } from '../paths';

export function NotFoundPage() {
  return (
    <div className="page">
      <h1>Page not found</h1>
      <p>
        Nothing lives at this address in the dashboard. <Link to={paths.overview}>Go to the overview</Link>.
      </p>
    </div>
  );
}
