/*
 * Directory snapshots: the kit's evidence that a plugin wrote nothing outside
 * its scratch directory. Directories themselves are compared by name only:
 * their times change whenever something deep inside them does, which in a
 * build tree (ctest writing its logs) is not the plugin's doing.
 */
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "kit.h"

/* Entries beyond this are not recorded: a snapshot is evidence, not a backup. */
#define KIT_SNAPSHOT_MAX 20000

typedef struct entry {
    char *path; /* relative to the root */
    int is_dir;
    off_t size;
    struct timespec mtime;
} entry;

struct kit_snapshot {
    char *root;
    int depth;
    entry *e;
    size_t n, cap;
};

static int add(kit_snapshot *s, const char *rel, const struct stat *st)
{
    if (s->n == KIT_SNAPSHOT_MAX)
        return 0;
    if (s->n == s->cap) {
        size_t cap = s->cap ? 2 * s->cap : 64;
        entry *e = realloc(s->e, cap * sizeof *e);
        if (!e)
            return -1;
        s->e = e;
        s->cap = cap;
    }
    entry *x = &s->e[s->n];
    x->path = strdup(rel);
    if (!x->path)
        return -1;
    x->is_dir = S_ISDIR(st->st_mode);
    x->size = x->is_dir ? 0 : st->st_size;
    x->mtime = x->is_dir ? (struct timespec){0, 0} : st->st_mtim;
    s->n++;
    return 0;
}

static int walk(kit_snapshot *s, const char *rel, int depth)
{
    char dir[8192];
    snprintf(dir, sizeof dir, "%s%s%s", s->root, *rel ? "/" : "", rel);
    DIR *d = opendir(dir);
    if (!d)
        return *rel ? 0 : -1; /* an unreadable subdirectory is just not looked into */
    struct dirent *de;
    int rc = 0;
    while (rc == 0 && (de = readdir(d))) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        char child[4096];
        int n = snprintf(child, sizeof child, "%s%s%s", rel, *rel ? "/" : "", de->d_name);
        if (n < 0 || (size_t)n >= sizeof child)
            continue;
        struct stat st;
        if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0)
            continue;
        rc = add(s, child, &st);
        if (rc == 0 && S_ISDIR(st.st_mode) && depth > 1)
            rc = walk(s, child, depth - 1);
    }
    closedir(d);
    return rc;
}

static int by_path(const void *a, const void *b)
{
    return strcmp(((const entry *)a)->path, ((const entry *)b)->path);
}

static kit_snapshot *take(const char *dir, int depth)
{
    kit_snapshot *s = calloc(1, sizeof *s);
    if (!s || !(s->root = strdup(dir))) {
        free(s);
        return NULL;
    }
    s->depth = depth;
    if (walk(s, "", depth) != 0) {
        kit_snapshot_free(s);
        return NULL;
    }
    if (s->n)
        qsort(s->e, s->n, sizeof *s->e, by_path);
    return s;
}

kit_snapshot *kit_snapshot_take(const char *dir, int depth)
{
    return take(dir, depth);
}

int kit_snapshot_changed(const kit_snapshot *before, char *what, size_t len)
{
    kit_snapshot *now = take(before->root, before->depth);
    if (!now) {
        snprintf(what, len, "%s can no longer be read", before->root);
        return 1;
    }
    size_t i = 0, j = 0;
    int changed = 0;
    while (!changed && (i < before->n || j < now->n)) {
        int c = i == before->n ? 1 : j == now->n ? -1 : strcmp(before->e[i].path, now->e[j].path);
        if (c < 0) {
            snprintf(what, len, "removed %s", before->e[i].path);
            changed = 1;
        } else if (c > 0) {
            snprintf(what, len, "created %s", now->e[j].path);
            changed = 1;
        } else {
            const entry *a = &before->e[i], *b = &now->e[j];
            if (a->is_dir != b->is_dir || a->size != b->size ||
                a->mtime.tv_sec != b->mtime.tv_sec || a->mtime.tv_nsec != b->mtime.tv_nsec) {
                snprintf(what, len, "modified %s", a->path);
                changed = 1;
            }
            i++;
            j++;
        }
    }
    kit_snapshot_free(now);
    return changed;
}

void kit_snapshot_free(kit_snapshot *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < s->n; i++)
        free(s->e[i].path);
    free(s->e);
    free(s->root);
    free(s);
}
