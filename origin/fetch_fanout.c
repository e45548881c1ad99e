/*
 * origin/fetch_fanout.c: a fetch's subscribers (the client requests it serves) and its body blocks.
 *
 * Subscribers read the body from the fetch's blocks at their own pace; the owner wakes those on its
 * own loop by calling them, and those on other loops through their loop's receiver, so that every
 * subscriber's callbacks run on its own loop. A block is freed once every subscriber has sent it and
 * the store has it; the origin is paused while the slowest subscriber is more than FETCH_WINDOW
 * behind, and resumed (on the owner's loop only) when it catches up.
 *
 * Invariants that are easy to break:
 * - A subscriber's callback may unsubscribe, even the last one: loops over subscribers hold a
 *   reference and read `next` before the call.
 * - Body blocks are FETCH_BLOCK_SIZE bytes and aligned on chunk boundaries, so block i is chunk i. Only the
 *   allocation of the last one may be shorter (block_capacity); bytes a subscriber was pointed at stay
 *   allocated until it consumed them (or the fetch is released), because subscribers on other loops send from
 *   them without the mutex.
 * - A wake-up still queued when its subscriber leaves is freed by the receiver, never by the leaver.
 * - A fetch holds at most one place under the cap on background fetches (`background`), taken when it
 *   first goes on without a client and given back when its exchange ends or a client joins it again;
 *   both happen on the owner's loop, so only the count itself is shared between loops.
 */
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include "origin/fetch_int.h"

/* --- the cap on background fetches (misses whose clients all left) ----------------------------------- */

/* Set once before any loop runs (origin_fetch_set_background_limit); read by every loop afterwards. Without a
 * call the cap is off, as it was before there was one. */
static unsigned background_limit = UINT_MAX;
static void (*background_on_drop)(h2o_multithread_receiver_t *owner);
static atomic_uint background_count;

void origin_fetch_set_background_limit(unsigned limit, void (*on_drop)(h2o_multithread_receiver_t *owner))
{
    background_limit = limit;
    background_on_drop = on_drop;
}

unsigned origin_fetch_background_count(void)
{
    return atomic_load(&background_count);
}

/* Whether a fetch without a client may go on: yes when it already has a place, or when one is free; a
 * refusal is reported once. On the owner's loop. */
bool fetch_background_admit(fetch_t *f)
{
    if (f->background == FETCH_BG_ADMITTED)
        return true;
    if (f->background == FETCH_BG_REFUSED)
        return false;
    unsigned n = atomic_load(&background_count);
    do {
        if (n >= background_limit) {
            f->background = FETCH_BG_REFUSED;
            if (background_on_drop != NULL)
                background_on_drop(f->args.receiver);
            return false;
        }
    } while (!atomic_compare_exchange_weak(&background_count, &n, n + 1));
    f->background = FETCH_BG_ADMITTED;
    return true;
}

/* Gives the place back (idempotent). On the owner's loop. */
void fetch_background_leave(fetch_t *f)
{
    if (f->background != FETCH_BG_ADMITTED)
        return;
    f->background = FETCH_BG_NONE;
    atomic_fetch_sub(&background_count, 1);
}

static bool on_owner_loop(fetch_t *f, origin_fetch_sub_t *sub)
{
    return sub->receiver == f->args.receiver;
}

/* Runs a subscriber's callback: on_head the first time, on_body after. */
static void wake(origin_fetch_sub_t *sub)
{
    if (!sub->_head_seen) {
        sub->_head_seen = true;
        sub->on_head(sub);
    } else {
        sub->on_body(sub);
    }
}

/* Wakes every subscriber: those on the owner's loop are called now, the others through their loop. */
void fetch_notify(fetch_t *f)
{
    fetch_retain(f);
    pthread_mutex_lock(&f->mutex);
    for (h2o_linklist_t *l = f->subs.next, *next; l != &f->subs; l = next) {
        next = l->next;
        origin_fetch_sub_t *sub = H2O_STRUCT_FROM_MEMBER(origin_fetch_sub_t, _link, l);
        if (on_owner_loop(f, sub)) {
            wake(sub);
        } else if (!atomic_exchange(&sub->_wakeup->queued, true)) {
            h2o_multithread_send_message(sub->receiver, &sub->_wakeup->super);
        }
    }
    pthread_mutex_unlock(&f->mutex);
    fetch_release(f);
}

/* Asks the owner's loop to re-check the fetch (from another loop). Called with f->mutex held. */
void fetch_wake_owner(fetch_t *f)
{
    if (!atomic_exchange(&f->ctl.queued, true)) {
        fetch_retain(f);
        h2o_multithread_send_message(f->args.receiver, &f->ctl.super);
    }
}

void origin_fetch_receive(h2o_multithread_receiver_t *receiver, h2o_linklist_t *messages)
{
    while (!h2o_linklist_is_empty(messages)) {
        fetch_wakeup_t *w = H2O_STRUCT_FROM_MEMBER(fetch_wakeup_t, super.link, messages->next);
        h2o_linklist_unlink(&w->super.link);
        atomic_store(&w->queued, false);
        if (w->kind == WAKE_OWNER) {
            fetch_t *f = fetch_checked(w->fetch);
            fetch_owner_check(f);
            fetch_release(f);
            continue;
        }
        origin_fetch_sub_t *sub = w->sub;
        if (sub == NULL) {
            free(w); /* the subscriber left while this was queued */
            continue;
        }
        wake(sub); /* the callback may unsubscribe (and free w): touch nothing after it */
    }
}

static uint64_t min_offset(fetch_t *f)
{
    uint64_t min = f->super.received;
    for (h2o_linklist_t *l = f->subs.next; l != &f->subs; l = l->next) {
        origin_fetch_sub_t *sub = H2O_STRUCT_FROM_MEMBER(origin_fetch_sub_t, _link, l);
        if (sub->offset < min)
            min = sub->offset;
    }
    return min;
}

/* Frees the blocks that every subscriber has sent and the store no longer needs. With f->mutex held. */
void fetch_release_blocks(fetch_t *f)
{
    uint64_t min = min_offset(f);
    while (f->first_block < f->blocks.size) {
        fetch_block_t *b = f->blocks.entries + f->first_block;
        uint64_t end = (uint64_t)f->first_block * FETCH_BLOCK_SIZE + b->len;
        bool full = b->len == FETCH_BLOCK_SIZE;
        /* a stored object's last partial block is kept for the record (an inline body) */
        if (!full || end > min)
            break;
        if (f->storing && f->first_block >= f->chunks_stored)
            break;
        free(b->data);
        b->data = NULL;
        ++f->first_block;
    }
}

bool fetch_behind_window(fetch_t *f)
{
    return !h2o_linklist_is_empty(&f->subs) && f->super.received - min_offset(f) > FETCH_WINDOW;
}

/* On the owner's loop only, with f->mutex held. */
void fetch_resume_if_caught_up(fetch_t *f)
{
    if (!f->paused || fetch_behind_window(f))
        return;
    f->paused = false;
    if (f->client != NULL) {
        origin_client_resume(f->client); /* its read timeout runs again; buffered bytes come on a later turn */
    } else if (f->file_fd >= 0 && !h2o_timeout_is_linked(&f->defer))
        h2o_timeout_link(f->args.loop, f->args.zero_timeout, &f->defer);
}

/* The bytes to allocate for block `i`: what is left of a known Content-Length when that is less than a block,
 * else FETCH_BLOCK_SIZE. A 1 KB response used to take a 256 KB allocation: glibc grew the loop's arena for it
 * and gave the pages back (madvise, and a TLB flush on every core) when it was freed, on every miss. */
static size_t block_capacity(const fetch_t *f, size_t i)
{
    uint64_t start = (uint64_t)i * FETCH_BLOCK_SIZE;
    int64_t cl = f->super.content_length;
    if (cl >= 0 && (uint64_t)cl > start && (uint64_t)cl - start < FETCH_BLOCK_SIZE)
        return (size_t)((uint64_t)cl - start);
    return FETCH_BLOCK_SIZE;
}

/* Appends body bytes, handing every completed block to the store. */
void fetch_append_body(fetch_t *f, const void *src, size_t len)
{
    const uint8_t *p = src;
    pthread_mutex_lock(&f->mutex);
    while (len != 0) {
        fetch_block_t *b;
        if (f->blocks.size == 0 || f->blocks.entries[f->blocks.size - 1].len == FETCH_BLOCK_SIZE) {
            h2o_vector_reserve(NULL, &f->blocks, f->blocks.size + 1);
            b = f->blocks.entries + f->blocks.size;
            b->cap = block_capacity(f, f->blocks.size++);
            b->data = h2o_mem_alloc(b->cap);
            b->len = 0;
        } else {
            b = f->blocks.entries + f->blocks.size - 1;
        }
        if (b->len == b->cap) {
            /* more than the Content-Length said: the block gets its full size, in a new place (the old one
             * may be in a subscriber's hands until the fetch is released) */
            uint8_t *full = h2o_mem_alloc(FETCH_BLOCK_SIZE);
            memcpy(full, b->data, b->len);
            h2o_vector_reserve(NULL, &f->retired, f->retired.size + 1);
            f->retired.entries[f->retired.size++] = b->data;
            b->data = full;
            b->cap = FETCH_BLOCK_SIZE;
        }
        size_t n = b->cap - b->len < len ? b->cap - b->len : len;
        memcpy(b->data + b->len, p, n);
        b->len += n;
        p += n;
        len -= n;
        f->super.received += n;
        if (b->len == FETCH_BLOCK_SIZE && f->storing) {
            if (f->oid == 0)
                f->oid = cache_store_new_oid(f->args.store);
            cache_store_put_chunk(f->args.store, f->oid, f->chunks_stored++, b->data, b->len);
        }
    }
    pthread_mutex_unlock(&f->mutex);
}

void fetch_subscribe_locked(fetch_t *f, origin_fetch_sub_t *sub)
{
    sub->offset = 0;
    /* joining after the head: the subscriber sees it through origin_fetch_head_ready, and every wake-up
     * from now on is news of the body */
    sub->_head_seen = fetch_head_published(f->super.state);
    sub->_wakeup = NULL;
    if (!on_owner_loop(f, sub)) {
        sub->_wakeup = h2o_mem_alloc(sizeof(*sub->_wakeup));
        memset(sub->_wakeup, 0, sizeof(*sub->_wakeup));
        sub->_wakeup->kind = WAKE_SUB;
        sub->_wakeup->sub = sub;
        atomic_init(&sub->_wakeup->queued, false);
    }
    h2o_linklist_insert(&f->subs, &sub->_link);
    fetch_retain(f);
}

void origin_fetch_subscribe(origin_fetch_t *fetch, origin_fetch_sub_t *sub)
{
    fetch_t *f = fetch_checked(fetch);
    pthread_mutex_lock(&f->mutex);
    sub->joined = false;
    fetch_subscribe_locked(f, sub);
    pthread_mutex_unlock(&f->mutex);
}

void origin_fetch_unsubscribe(origin_fetch_t *fetch, origin_fetch_sub_t *sub)
{
    fetch_t *f = fetch_checked(fetch);
    bool owner = on_owner_loop(f, sub);

    pthread_mutex_lock(&f->mutex);
    h2o_linklist_unlink(&sub->_link);
    if (!owner)
        fetch_wake_owner(f); /* it decides whether the exchange is still wanted */
    pthread_mutex_unlock(&f->mutex);
    if (owner)
        fetch_owner_check(f);
    if (sub->_wakeup != NULL) {
        /* a wake-up still queued to this loop is freed by the receiver when it sees no subscriber */
        if (atomic_load(&sub->_wakeup->queued))
            sub->_wakeup->sub = NULL;
        else
            free(sub->_wakeup);
        sub->_wakeup = NULL;
    }
    fetch_release(f);
}

origin_fetch_state_t origin_fetch_peek(origin_fetch_t *fetch, origin_fetch_sub_t *sub, h2o_iovec_t *vec)
{
    fetch_t *f = fetch_checked(fetch);
    size_t idx = (size_t)(sub->offset / FETCH_BLOCK_SIZE), off = (size_t)(sub->offset % FETCH_BLOCK_SIZE);
    origin_fetch_state_t state;

    *vec = h2o_iovec_init(NULL, 0);
    pthread_mutex_lock(&f->mutex);
    state = fetch->state;
    if (idx < f->blocks.size && idx >= f->first_block) {
        fetch_block_t *b = f->blocks.entries + idx;
        if (off < b->len)
            *vec = h2o_iovec_init(b->data + off, b->len - off);
    }
    if (state == ORIGIN_FETCH_DONE && sub->offset + vec->len != fetch->received)
        state = ORIGIN_FETCH_BODY; /* more after this piece */
    pthread_mutex_unlock(&f->mutex);
    return state;
}

void origin_fetch_consume(origin_fetch_t *fetch, origin_fetch_sub_t *sub, size_t n)
{
    fetch_t *f = fetch_checked(fetch);
    bool owner = on_owner_loop(f, sub);

    pthread_mutex_lock(&f->mutex);
    sub->offset += n;
    if (owner) {
        fetch_release_blocks(f);
        fetch_resume_if_caught_up(f);
    } else if (f->paused || f->blocks.size > f->first_block + 1) {
        fetch_wake_owner(f); /* blocks may be freed, or the origin resumed, only there */
    }
    pthread_mutex_unlock(&f->mutex);
}
