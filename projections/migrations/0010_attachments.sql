-- 附图: the photos attached to each case (AttachPhotos → PhotosAttached), one row per photo and
-- attaching event (seq), with its stage (raise, progress, resolution, publish) and its place in it. The
-- bytes live in the blob store under their SHA-256; this table says which case holds which hash,
-- so the API can tell a case's parties from everybody else before it serves a photo.

CREATE TABLE attachments (
    case_id      text NOT NULL,
    stage        text NOT NULL,
    sha256       text NOT NULL,
    seq          integer NOT NULL,
    position     integer NOT NULL DEFAULT 0,
    content_type text NOT NULL,
    size         bigint NOT NULL,
    department   text,
    note         text,
    attached_at  timestamptz NOT NULL,
    attached_by  text NOT NULL,
    PRIMARY KEY (case_id, seq, sha256)
);
CREATE INDEX attachments_sha256 ON attachments (sha256);
