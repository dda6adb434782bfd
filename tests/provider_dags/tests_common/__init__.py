"""Stand-ins for the three helpers of Apache Airflow's own test suite (its ``tests_common``
package, which is not in the provider's source distribution) that the example DAGs import."""
