"""A Stack Exchange dump in the rel-stack layout (Parquet files, one per table).

Snapshot columns taken at dump time (reputation, views, vote and answer counts, last activity)
are dropped: they would show every anchor the end of the story. So is
``posts.AcceptedAnswerId``: it is filled in when an answer is accepted, which can be years after
the question's own time. The acceptance stays known from the day it happened, as a vote of type 1
(accepted by the originator) on the answer.
"""
from __future__ import annotations

import datetime as dt

FILES = ("users.parquet", "posts.parquet", "votes.parquet", "comments.parquet",
         "badges.parquet", "post_history.parquet", "post_links.parquet", "tags.parquet")

TABLES = (
    ("users", "users.parquet",
     "SELECT Id, CreationDate, DisplayName, WebsiteUrl, Location, AboutMe, AccountId FROM src"),
    ("posts", "posts.parquet",
     "SELECT Id, PostTypeId, CreationDate, Body, OwnerUserId, Title, Tags, ContentLicense, "
     "ParentId FROM src"),
    ("votes", "votes.parquet", "SELECT Id, PostId, VoteTypeId, CreationDate FROM src"),
    ("comments", "comments.parquet",
     "SELECT Id, PostId, Text, CreationDate, UserId, ContentLicense FROM src"),
    ("badges", "badges.parquet", "SELECT Id, UserId, Name, Date, Class, TagBased FROM src"),
    ("post_history", "post_history.parquet",
     "SELECT Id, PostHistoryTypeId, PostId, CreationDate, UserId, Text, Comment FROM src"),
    ("post_links", "post_links.parquet",
     "SELECT Id, CreationDate, PostId, RelatedPostId, LinkTypeId FROM src"),
    ("tags", "tags.parquet", "SELECT Id, TagName, ExcerptPostId, WikiPostId FROM src"),
)

KEYS = {
    "users": ("Id", {}, "CreationDate"),
    "posts": ("Id", {"OwnerUserId": "users", "ParentId": "posts"}, "CreationDate"),
    "votes": ("Id", {"PostId": "posts"}, "CreationDate"),
    "comments": ("Id", {"PostId": "posts", "UserId": "users"}, "CreationDate"),
    "badges": ("Id", {"UserId": "users"}, "Date"),
    "post_history": ("Id", {"PostId": "posts", "UserId": "users"}, "CreationDate"),
    "post_links": ("Id", {"PostId": "posts", "RelatedPostId": "posts"}, "CreationDate"),
    "tags": ("Id", {"ExcerptPostId": "posts", "WikiPostId": "posts"}, None),
}

TASKS = (
    dict(name="user-engagement", entity="users", kind="binary", horizon=dt.timedelta(days=365),
         val_timestamp=dt.datetime(2019, 1, 1), test_timestamp=dt.datetime(2021, 1, 1),
         eval_windows=40,
         description="Will a user who posted, commented or earned a badge in the last two years "
                     "post or comment in the next year?",
         label_sql="""
WITH activity AS (
    SELECT OwnerUserId AS uid, CreationDate AS t FROM posts WHERE OwnerUserId IS NOT NULL
    UNION ALL SELECT UserId, CreationDate FROM comments WHERE UserId IS NOT NULL),
past AS (
    SELECT uid, t FROM activity UNION ALL SELECT UserId, Date FROM badges)
SELECT a.anchor_time, u.Id,
       CAST(EXISTS (SELECT 1 FROM activity x WHERE x.uid = u.Id AND x.t > a.anchor_time
                    AND x.t <= a.window_end) AS INTEGER) AS label
FROM relatron_anchors a JOIN users u ON u.CreationDate <= a.anchor_time
WHERE EXISTS (SELECT 1 FROM past p WHERE p.uid = u.Id AND p.t <= a.anchor_time
              AND p.t > a.anchor_time - INTERVAL 2 YEAR)"""),
)

BANK_TASKS = (
    dict(name="user-badge", entity="users", kind="binary", horizon=dt.timedelta(days=365),
         val_timestamp=dt.datetime(2019, 1, 1), test_timestamp=dt.datetime(2021, 1, 1),
         eval_windows=40,
         description="Will a user active in the last two years earn a badge in the next year?",
         label_sql="""
WITH past AS (
    SELECT OwnerUserId AS uid, CreationDate AS t FROM posts WHERE OwnerUserId IS NOT NULL
    UNION ALL SELECT UserId, CreationDate FROM comments WHERE UserId IS NOT NULL
    UNION ALL SELECT UserId, Date FROM badges)
SELECT a.anchor_time, u.Id,
       CAST(EXISTS (SELECT 1 FROM badges b WHERE b.UserId = u.Id AND b.Date > a.anchor_time
                    AND b.Date <= a.window_end) AS INTEGER) AS label
FROM relatron_anchors a JOIN users u ON u.CreationDate <= a.anchor_time
WHERE EXISTS (SELECT 1 FROM past p WHERE p.uid = u.Id AND p.t <= a.anchor_time
              AND p.t > a.anchor_time - INTERVAL 2 YEAR)"""),
)
