/** Applications (tenants): the list, and creating one. */
import { keepPreviousData, useQuery, useQueryClient } from '@tanstack/react-query';
import { Link, useNavigate } from 'react-router';
import { describeError } from '../../api/client';
import { applications } from '../../api/tenancy';
import { useApi } from '../../authContext';
import { ApplicationForm } from '../../components/ApplicationForm';
import { Empty, ErrorMessage, Loading } from '../../components/Feedback';
import { Id } from '../../components/Id';
import { Pagination } from '../../components/Pagination';
import { Time } from '../../components/Time';
import { paths } from '../../paths';
import { useCursorTrail } from '../../urlState';

export function ApplicationsPage() {
  const client = useApi();
  const trail = useCursorTrail();
  const list = useQuery({
    queryKey: ['applications', trail.cursor ?? ''],
    queryFn: () => applications.list(client, { cursor: trail.cursor, limit: 50 }),
    placeholderData: keepPreviousData,
  });
  return (
    <div className="page">
      <div className="page-head">
        <h1>Applications</h1>
        <Link to={paths.newApplication} className="button primary">New application</Link>
      </div>
      <p className="hint">One application per customer: each has its own subscriptions, deliveries, keys and consumer portal.</p>
      <section className="card">
        <ErrorMessage error={list.error ? describeError(list.error) : null} onRetry={() => list.refetch()} />
        {list.isPending && <Loading what="Loading applications" />}
        {list.data &&
          (list.data.items.length === 0 ? (
            <Empty>No applications.</Empty>
          ) : (
            <div className="table-wrap">
              <table>
                <caption className="sr-only">Applications, newest first</caption>
                <thead>
                  <tr><th scope="col">uid</th><th scope="col">Name</th><th scope="col">Id</th><th scope="col">Retention</th><th scope="col">Created</th></tr>
                </thead>
                <tbody>
                  {list.data.items.map((a) => (
                    <tr key={a.id} data-testid="application-row">
                      <td><Link to={paths.application(a.uid)}>{a.uid}</Link>{a.builtin && <span className="badge badge-muted"> built in</span>}</td>
                      <td>{a.name}</td>
                      <td><Id value={a.id} /></td>
                      <td>{a.retention ?? 'server default'}</td>
                      <td><Time value={a.created_at} /></td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          ))}
        <Pagination page={trail.page} hasPrev={trail.page > 1} hasNext={!!list.data?.nextCursor} onPrev={trail.prev} onNext={() => list.data?.nextCursor && trail.next(list.data.nextCursor)} />
      </section>
    </div>
  );
}

export function NewApplicationPage() {
  const client = useApi();
  const qc = useQueryClient();
  const navigate = useNavigate();
  return (
    <div className="page">
      <p className="crumbs"><Link to={paths.applications}>Applications</Link> /</p>
      <h1>New application</h1>
      <ApplicationForm
        submitLabel="Create application"
        onCancel={() => navigate(paths.applications)}
        onSubmit={async (body) => {
          const a = await applications.create(client, { ...body, retention: body.retention || undefined });
          void qc.invalidateQueries({ queryKey: ['applications'] });
          navigate(paths.application(a.uid), { state: { notice: 'Application created.' } });
        }}
      />
    </div>
  );
}
