-- The case listings' order (raised_at DESC NULLS LAST, then case_id: whistle.read.gateway's
-- cases), so a listing's first page is read off the index instead of sorting every case in
-- scope: at 100,000 cases the supervisor's and the admin's workspace spent ~100 ms in that sort
-- (bench/bench_pages.py). cases_raised_at (raised_at ASC) cannot serve it: read backwards it
-- puts NULLs first, and it has no case_id to break ties.
CREATE INDEX cases_listing ON cases (raised_at DESC NULLS LAST, case_id);
