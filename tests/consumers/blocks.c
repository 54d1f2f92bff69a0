/* blocks.c: a library whose kernels bmm_generate_kernels adds (find_package/CMakeLists.txt). */
int blocks_version(void);

int blocks_version(void)
{
    return 1;
}
