/** Apps and their attachments to databases, which give them config vars such as {@code DATABASE_URL}. */
package dev.keel.apps;
