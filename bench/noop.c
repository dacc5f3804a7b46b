/* noop: the cost of starting and ending a dynamically linked C process. */
int main(void)
{
	return 0;
}
