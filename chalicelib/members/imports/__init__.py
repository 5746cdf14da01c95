"""Member imports (bulk member sync): a CSV or JSON-lines file dropped in the imports bucket (or uploaded
through a URL the API signs), applied row by row as `PUT .../members/{external_id}` would, with a report.

An admin puts `imports/{org_id}/{program_id}/{name}.csv` (or `.jsonl`) in the bucket; S3 tells the
imports queue, and the member import function applies every row as `PUT .../members/{external_id}`
would: the same validation (`members.shapes.MemberUpsert`, `ids.EXTERNAL_ID`), profile fields only, never
the balance. Each row is created, updated, unchanged (already as the file says, so not written) or
rejected with its reason (the field and the message, never the value); a rejected row never stops
the others. The outcome goes to `reports/{org_id}/{program_id}/{name}.report.json` and to an import
job item in the table.

Exactly once however often S3 delivers the notification: the job item is keyed by the object's
identity (its version, or its ETag where the bucket keeps no versions), so a repeated notification
finds the job and does nothing more. Profile writes are idempotent by nature: writing a row again
writes the same values.

Long files are processed in chunks. The job item holds a checkpoint (byte offset, line, counts)
and a lease (a fencing token: only its holder may move the checkpoint). When the Lambda's time runs
low the worker checkpoints, releases the lease and puts a continuation message on the imports queue,
so no file is too long for one invocation. A worker that crashes leaves its message on the queue;
its redelivery takes the lease over and resumes from the last checkpoint (rows after it are written
again, which changes no member twice).

A member write never races a balance change: a new member is a PutItem conditional on the key
being new (the item `account.new_member` makes, so the shape is the API's); an existing member gets
one UpdateItem that SETs/REMOVEs only profile fields and increments the version, so the balance is
never written, and a concurrent ledger transaction (which checks the version) re-reads instead of
putting back the old profile.

The modules, in the order a file goes through them:
    queue_messages  a message of the imports queue: an S3 notification or a continuation
    job_leases      the job item: created by its object's first notification, held by one worker at a time
    runs            one worker's run over the file, from the checkpoint until it ends or time runs low
    bucket          the bucket's key layout, the object's identity, its ranged reads
    row_texts       the file's bytes as rows of text, within the size limits
    member_rows     a row's text as PUT member takes it (MemberUpsert, the external_id rules), or why not
    member_writes   a chunk of rows applied to the members: one read for all, parallel writes
    checkpoints     the progress kept in the job item, and the rejected rows kept in S3 until the report
    reports         the report, and the job marked finished
    uploads         the API's side: signed upload URLs, the program's imports, a report's URL
"""
