import { useEffect, useState } from 'preact/hooks';

export interface Paging {
  page: number;
  pages: number;
  start: number;
  end: number;
  total: number;
  setPage: (page: number) => void;
}

/** Pages of `size` rows over `total`; back to the first page when `resetKey` changes (new filter). */
export const usePaging = (total: number, size: number, resetKey: unknown = null): Paging => {
  const [page, setPage] = useState(0);
  useEffect(() => setPage(0), [resetKey]);
  const pages = Math.max(1, Math.ceil(total / size));
  const current = Math.min(page, pages - 1);
  const start = current * size;
  return { page: current, pages, start, end: Math.min(total, start + size), total, setPage };
};

/** Previous/next for a paged table; hidden when everything fits on one page. */
export const Pager = ({ label, paging }: { label: string; paging: Paging }) => {
  const { page, pages, start, end, total, setPage } = paging;
  if (pages <= 1) return null;
  return (
    <nav class="pager" aria-label={`${label}: pages`}>
      <button type="button" onClick={() => setPage(0)} disabled={page === 0} aria-label={`${label}: first page`}>
        «
      </button>
      <button type="button" onClick={() => setPage(page - 1)} disabled={page === 0}>
        Previous
      </button>
      <span>
        {start + 1}–{end} of {total.toLocaleString('en-US')} (page {page + 1} of {pages})
      </span>
      <button type="button" onClick={() => setPage(page + 1)} disabled={page >= pages - 1}>
        Next
      </button>
      <button type="button" onClick={() => setPage(pages - 1)} disabled={page >= pages - 1} aria-label={`${label}: last page`}>
        »
      </button>
    </nav>
  );
};
