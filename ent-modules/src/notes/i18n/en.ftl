notes-title = Grades
notes-average = Average
notes-general-average = General average
notes-class-average = Class average
notes-min = Lowest grade
notes-max = Highest grade
notes-rank = Rank
notes-coefficient = Coefficient
notes-scale = Out of { $scale }
notes-optional = Optional
notes-bonus = Bonus
notes-not-counted = Not counted
notes-status-Abs = Absent
notes-status-Disp = Exempt
notes-status-NN = Not graded
notes-status-Inap = Unfit
notes-status-NR = Not handed in
notes-status-AbsZ = Absent (counts 0)
notes-status-NRZ = Not handed in (counts 0)
notes-published = { $count ->
    [one] { $count } new grade
   *[other] { $count } new grades
}
notes-error-closed-period = The period is closed: it can no longer be changed.
notes-error-above-scale = The grade is above the scale ({ $scale }).
notes-error-not-member = This pupil is not in the class or group.
