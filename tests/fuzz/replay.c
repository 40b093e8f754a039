// SPDX-License-Identifier: Apache-2.0
/* Replays inputs through a fuzz target's LLVMFuzzerTestOneInput without libFuzzer, so that the
 * corpora also run in the normal gcc build and in the ASan build (ctest: fuzz_NAME_replay).
 *
 *   fuzz_NAME_replay PATH...   each PATH a file, or a directory whose files (not recursively,
 *                              hidden ones skipped) are replayed in name order
 *
 * Calls LLVMFuzzerInitialize first when the target defines it. Exits 0 after the last input,
 * printing how many were replayed; 1 when a path cannot be read or no input was found (an empty
 * corpus would make the test pass without testing anything); a bug in the target crashes or
 * aborts it, as under libFuzzer. */
#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv) __attribute__((weak));

static int replay_file(const char *path, size_t *count)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        fprintf(stderr, "replay: %s: %s\n", path, strerror(errno));
        return -1;
    }
    size_t capacity = 4096, size = 0;
    uint8_t *data = malloc(capacity);
    size_t got;
    while (data != NULL && (got = fread(data + size, 1, capacity - size, f)) > 0) {
        size += got;
        if (size == capacity) {
            uint8_t *bigger = realloc(data, capacity * 2);
            if (bigger == NULL) {
                free(data);
                data = NULL;
                break;
            }
            data = bigger;
            capacity *= 2;
        }
    }
    int failed = data == NULL || ferror(f);
    fclose(f);
    if (failed) {
        fprintf(stderr, "replay: %s: cannot read it\n", path);
        free(data);
        return -1;
    }
    /* a copy of exactly `size` bytes, so that ASan sees any read past the input */
    uint8_t *input = malloc(size ? size : 1);
    if (input == NULL) {
        free(data);
        return -1;
    }
    memcpy(input, data, size);
    free(data);
    LLVMFuzzerTestOneInput(input, size);
    free(input);
    (*count)++;
    return 0;
}

static int by_name(const struct dirent **a, const struct dirent **b)
{
    return strcmp((*a)->d_name, (*b)->d_name);
}

static int not_hidden(const struct dirent *entry)
{
    return entry->d_name[0] != '.';
}

static int replay_directory(const char *path, size_t *count)
{
    struct dirent **entries;
    int n = scandir(path, &entries, not_hidden, by_name);
    if (n < 0) {
        fprintf(stderr, "replay: %s: %s\n", path, strerror(errno));
        return -1;
    }
    int rc = 0;
    for (int i = 0; i < n; i++) {
        char file[4096];
        struct stat st;
        snprintf(file, sizeof file, "%s/%s", path, entries[i]->d_name);
        if (rc == 0 && stat(file, &st) == 0 && S_ISREG(st.st_mode) && replay_file(file, count) != 0)
            rc = -1;
        free(entries[i]);
    }
    free(entries);
    return rc;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s FILE_OR_DIRECTORY...\n", argv[0]);
        return 2;
    }
    if (LLVMFuzzerInitialize != NULL)
        LLVMFuzzerInitialize(&argc, &argv);
    size_t count = 0;
    for (int i = 1; i < argc; i++) {
        struct stat st;
        if (stat(argv[i], &st) != 0) {
            fprintf(stderr, "replay: %s: %s\n", argv[i], strerror(errno));
            return 1;
        }
        int rc =
            S_ISDIR(st.st_mode) ? replay_directory(argv[i], &count) : replay_file(argv[i], &count);
        if (rc != 0)
            return 1;
    }
    if (count == 0) {
        fprintf(stderr, "replay: no input found in the paths given\n");
        return 1;
    }
    printf("replayed %zu inputs\n", count);
    return 0;
}
