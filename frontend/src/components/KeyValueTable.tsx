/** A two-column table of header names and values. */
export function KeyValueTable({ values, caption, empty = 'None' }: { values: Record<string, string>; caption: string; empty?: string }) {
  const entries = Object.entries(values ?? {});
  if (entries.length === 0) return <p className="hint">{caption}: {empty}</p>;
  return (
    <div className="table-wrap">
      <table className="kv">
        <caption>{caption}</caption>
        <tbody>
          {entries.map(([k, v]) => (
            <tr key={k}>
              <th scope="row" className="mono">{k}</th>
              <td className="mono break">{v}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
