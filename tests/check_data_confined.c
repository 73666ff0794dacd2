/* tests/check_data_confined.c -- issue 19: DH_PATHS_CONFINED follows symlinks. An image
 * list whose (relative, ".."-free) entry is a symlink, or passes through a symlinked
 * folder, that leads outside the list's root is refused: at load when check_files is
 * set (naming the list line), else when the image is read. Symlinks that stay inside
 * the root, and DH_PATHS_ANY, still work. */
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char root[600], outside[600];

static void put_ppm(const char *path)
{
    FILE *f = fopen(path, "wb");
    ck_assert_ptr_nonnull(f);
    fprintf(f, "P6\n4 4\n255\n");
    for (int i = 0; i < 48; i++) fputc(i * 5, f);
    fclose(f);
}

static void put_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "wb");
    ck_assert_ptr_nonnull(f);
    fputs(text, f);
    fclose(f);
}

/* root/ holds in.ppm, inlink.ppm -> in.ppm, out.ppm -> ../outside/secret.ppm and
 * sub -> ../outside (a folder). */
static void make_tree(const char *name)
{
    char p[1300], q[1300];
    snprintf(p, sizeof p, "%s/%s", dh_test_tmpdir(), name);
    ck_assert_int_eq(mkdir(p, 0755), 0);
    snprintf(root, sizeof root, "%s/%s/root", dh_test_tmpdir(), name);
    snprintf(outside, sizeof outside, "%s/%s/outside", dh_test_tmpdir(), name);
    ck_assert_int_eq(mkdir(root, 0755), 0);
    ck_assert_int_eq(mkdir(outside, 0755), 0);
    snprintf(p, sizeof p, "%s/secret.ppm", outside);
    put_ppm(p);
    snprintf(p, sizeof p, "%s/in.ppm", root);
    put_ppm(p);
    snprintf(p, sizeof p, "%s/inlink.ppm", root);
    ck_assert_int_eq(symlink("in.ppm", p), 0);
    snprintf(p, sizeof p, "%s/out.ppm", root);
    snprintf(q, sizeof q, "%s/secret.ppm", outside);
    ck_assert_int_eq(symlink(q, p), 0);
    snprintf(p, sizeof p, "%s/sub", root);
    ck_assert_int_eq(symlink("../outside", p), 0);
}

static dh_status load(const char *list_text, uint32_t policy, uint32_t check_files,
                      dh_dataset **ds)
{
    char list[1300];
    snprintf(list, sizeof list, "%s/list.txt", root);
    put_text(list, list_text);
    dh_imagelist_options o;
    dh_imagelist_options_init(&o);
    o.height = o.width = 4;
    o.check_files = check_files;
    o.path_policy = policy;
    return dh_dataset_load_imagelist(list, &o, ds);
}

START_TEST(test_confined_refuses_symlink_escapes)
{
    make_tree("escape");
    const char *bad[2] = {"in.ppm 0\nout.ppm 1\n", "in.ppm 0\nsub/secret.ppm 1\n"};
    for (int i = 0; i < 2; i++) {
        dh_dataset *ds = NULL;
        ck_assert_dh_fail(load(bad[i], DH_PATHS_CONFINED, 1, &ds), DH_E_FORMAT);
        ck_assert_ptr_null(ds);
        ck_assert_msg(strstr(dh_last_error(), "list.txt:2") &&
                          strstr(dh_last_error(), "outside the list's root") &&
                          strstr(dh_last_error(), "secret.ppm"),
                      "%s", dh_last_error());
        /* without the load-time check the read refuses it */
        ck_assert_dh_ok(load(bad[i], DH_PATHS_CONFINED, 0, &ds));
        uint8_t img[4 * 4 * 3];
        ck_assert_dh_ok(dh_dataset_get_image(ds, 0, img));
        ck_assert_dh_fail(dh_dataset_get_image(ds, 1, img), DH_E_FORMAT);
        ck_assert_msg(strstr(dh_last_error(), "outside the list's root"), "%s", dh_last_error());
        dh_dataset_free(ds);
        /* the default policy follows the link */
        ck_assert_dh_ok(load(bad[i], DH_PATHS_ANY, 1, &ds));
        ck_assert_dh_ok(dh_dataset_get_image(ds, 1, img));
        dh_dataset_free(ds);
    }
}
END_TEST

START_TEST(test_confined_allows_links_inside_root)
{
    make_tree("inside");
    dh_dataset *ds = NULL;
    ck_assert_dh_ok(load("in.ppm 0\ninlink.ppm 1\n", DH_PATHS_CONFINED, 1, &ds));
    uint8_t a[4 * 4 * 3], b[4 * 4 * 3];
    ck_assert_dh_ok(dh_dataset_get_image(ds, 0, a));
    ck_assert_dh_ok(dh_dataset_get_image(ds, 1, b));
    ck_assert_mem_eq(a, b, sizeof a);
    dh_dataset_free(ds);
    /* a missing file is still "missing", not an escape */
    ck_assert_dh_fail(load("nope.ppm 0\n", DH_PATHS_CONFINED, 1, &ds), DH_E_NOT_FOUND);
}
END_TEST

Suite *confined_suite(void)
{
    Suite *s = suite_create("data_confined");
    TCase *t = tcase_create("symlinks");
    tcase_add_test(t, test_confined_refuses_symlink_escapes);
    tcase_add_test(t, test_confined_allows_links_inside_root);
    suite_add_tcase(s, t);
    return s;
}

int main(void) { return dh_test_run(confined_suite()); }
